#pragma once
// `ferryd firewall-rules`: the static filter rules an administrator adds for this configuration
// (seed 000, scenarios 3 and 4: "your firewall administrator needs to add static filter rules").
#include <string>

#include "config/settings.hpp"

namespace ferry::server {

// nftables ruleset plus the iptables equivalent and notes, as text.
std::string firewall_rules(const config::server_settings& s, const std::string& source_name);

}  // namespace ferry::server
