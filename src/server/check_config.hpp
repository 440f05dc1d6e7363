#pragma once
// `ferryd check-config FILE`: the configuration and the files it names read and checked as
// server::load would (USERS, CERTMAP, KEYRING, CAFILE, CRLFILE, RUNAS, XFERLOG's folder) without
// binding a listener, changing a file or starting anything; every problem is collected, not only
// the first.
#include <map>
#include <string>
#include <vector>

#include "config/settings.hpp"

namespace ferry::server {

struct config_check {
    std::vector<config::effective_value> settings;  // every statement, defaults included
    std::map<std::string, std::string> set_at;       // keyword -> "file:line" of the statements in the file
    std::vector<std::string> problems;              // "file:line: ..." where a statement is at fault
    std::vector<std::string> warnings;              // insecure settings: allowed, but said
    bool ok() const { return problems.empty(); }
};

// users_root: as --root (relative homes in USERS); empty: the USERS file's folder.
config_check check_config(const std::string& config_file, const std::string& users_root = {});

// What check-config prints on standard output: the effective settings as statements, each with
// "; file:line" or "; default".
std::string format_config_settings(const config_check& c, const std::string& config_file);
// ...and on standard error: "warning: ..." and "error: file:line: ..." lines and a summary.
std::string format_config_problems(const config_check& c, const std::string& config_file);

}  // namespace ferry::server
