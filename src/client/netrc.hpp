#pragma once
// ~/.netrc (the format of ftp(1) and curl): "machine HOST login USER password PW", "default ...",
// "macdef NAME" bodies skipped up to an empty line. Pure.
#include <optional>
#include <string>
#include <string_view>

namespace ferry::client {

struct netrc_entry {
    std::string login;
    std::string password;
    bool has_password = false;
};

// The entry for host; with user non-empty, only an entry with that login (or without a login).
// A matching "machine" entry wins over "default".
std::optional<netrc_entry> netrc_find(std::string_view text, std::string_view host, std::string_view user);

}  // namespace ferry::client
