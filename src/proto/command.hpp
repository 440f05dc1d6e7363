#pragma once
// Command line parsing: "VERB[ SP argument]" (RFC 959 section 5.3).
#include <string>
#include <string_view>

namespace ferry::proto {

struct command {
    std::string verb;  // upper-cased, e.g. "RETR"
    std::string arg;   // everything after the first space, unmodified (paths may hold spaces)
};

// Returns false for an empty line or a verb that is not 3-4 letters.
bool parse_command(std::string_view line, command& out);

// Splits "TLS" out of "AUTH tls" style arguments: upper-cased, trimmed.
std::string upper(std::string_view s);

}  // namespace ferry::proto
