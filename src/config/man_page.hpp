#pragma once
// ferryd.conf(5) is generated from the one statement table (schema.hpp) at build time, so the
// manual cannot list a statement, value or default that the code does not have, or miss one.
#include <string>
#include <string_view>

#include "config/schema.hpp"

namespace ferry::config {

// Text made safe for a roff line: backslashes escaped, a leading '.' or '\'' (a request) defused.
std::string roff_text(std::string_view text);

// One ".TP" paragraph per statement of the side, in table order: the keyword in bold, its syntax
// in italics, the meaning, then the default and whether it may be repeated.
std::string describe_roff(side where);

}  // namespace ferry::config
