#include "server/firewall_rules.hpp"

#include <fmt/core.h>

#include <set>

namespace ferry::server {

std::string firewall_rules(const config::server_settings& s, const std::string& source_name) {
    std::set<unsigned> control;
    if (s.listen.empty()) control.insert(21);
    for (const auto& l : s.listen) control.insert(l.port);
    const bool implicit = s.tls_configured() && s.tls_port != 0;
    if (implicit) control.insert(s.tls_port);
    std::string ports;
    for (unsigned p : control) ports += (ports.empty() ? "" : ", ") + std::to_string(p);
    std::string mports;
    for (unsigned p : control) mports += (mports.empty() ? "" : ",") + std::to_string(p);
    const bool range = s.passive_low != 0;
    const std::string nft_range = range ? fmt::format("{}-{}", s.passive_low, s.passive_high) : "32768-60999";

    std::string out = fmt::format("# Firewall rules for ferryd ({})\n", source_name);
    out += "# nftables (nft -f FILE):\n";
    out += "table inet ferryd {\n";
    out += "  chain input {\n";
    out += "    type filter hook input priority filter; policy accept;\n";
    out += fmt::format("    tcp dport {{ {} }} ct state new accept comment \"control: explicit TLS (AUTH){}\"\n", ports,
                       implicit ? " and implicit TLS (TLSPORT)" : "");
    out += fmt::format("    tcp dport {} ct state new accept comment \"passive data ({})\"\n", nft_range,
                       range ? "PASSIVEDATAPORTS" : "no PASSIVEDATAPORTS: the kernel's ephemeral range");
    out += "  }\n";
    out += "  chain output {\n";
    out += "    type filter hook output priority filter; policy accept;\n";
    out += fmt::format("    tcp sport {} ct state new accept comment \"active data (PORT/EPRT){}\"\n",
                       s.active_from_port_20 ? "20" : "1024-65535",
                       s.active_from_port_20 ? ", ACTIVEDATAPORT 20" : "");
    out += "  }\n}\n\n";
    out += "# iptables equivalent:\n";
    out += fmt::format("iptables -A INPUT -p tcp -m multiport --dports {} -m conntrack --ctstate NEW -j ACCEPT\n", mports);
    out += fmt::format("iptables -A INPUT -p tcp --dport {} -m conntrack --ctstate NEW -j ACCEPT\n",
                       range ? fmt::format("{}:{}", s.passive_low, s.passive_high) : std::string("32768:60999"));
    out += fmt::format("iptables -A OUTPUT -p tcp --sport {} -m conntrack --ctstate NEW -j ACCEPT\n",
                       s.active_from_port_20 ? "20" : "1024:65535");
    out += "\n# Notes:\n";
    if (!range)
        out += "# - Set PASSIVEDATAPORTS so that a small fixed range can be opened instead of all ephemeral ports.\n";
    out += "# - The FTP connection-tracking helper (nf_conntrack_ftp) cannot read TLS-protected control\n"
           "#   connections, so it cannot open data ports dynamically: use the static rules above, EPSV\n"
           "#   from the client, or CCC (";
    out += s.rfc_level == config::tls_rfc_level::draft ? "refused now: set TLSRFCLEVEL RFC4217" : "accepted: TLSRFCLEVEL allows it";
    out += ").\n";
    if (s.passive_addresses.empty())
        out += "# - Behind NAT, set PASSIVEADDRESS to the public address so that PASV replies name it.\n";
    if (range)
        out += fmt::format("# - Behind NAT, forward (DNAT) the control ports and {}-{} to this host.\n", s.passive_low,
                           s.passive_high);
    return out;
}

}  // namespace ferry::server
