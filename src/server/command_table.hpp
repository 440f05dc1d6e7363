#pragma once
// The command table: one row per verb with its policy flags, so that login, TLS and argument
// checks happen in one place (session::dispatch) and not in each handler.
#include <string>
#include <string_view>
#include <vector>

#include "server/session.hpp"

namespace ferry::server {

enum command_flags : unsigned {
    needs_arg = 1,         // 501 without an argument
    needs_login = 2,       // 530 before PASS succeeded
    pre_auth = 4,          // allowed on a clear control connection under SECURE_FTP REQUIRED
    during_transfer = 8,   // answered at once while a transfer runs (others wait for it to end)
    writes = 16,           // changes files: 550 for a read-only user (users file option readonly)
};

struct command_entry {
    std::string_view verb;
    session::handler fn;
    unsigned flags;
    std::string_view help;  // syntax shown by HELP verb
};

inline constexpr std::string_view read_only_refusal = "Permission denied: this account is read-only.";

const std::vector<command_entry>& commands();
const command_entry* find_command(std::string_view verb);
// The FEAT lines of HASH and the X* digests; current: the algorithm OPTS HASH chose (hash_commands.cpp).
std::vector<std::string> hash_features(tls::digest_algorithm current);

}  // namespace ferry::server
