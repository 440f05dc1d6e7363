#pragma once
// `ferryd user add|del|passwd|list`: the virtual users file edited as Pure-FTPd's pure-pw edits
// its own (yescrypt hashes, the password read without echo or from standard input, the file
// replaced atomically with its mode and owner kept). ferryd's main only parses the arguments.
#include <cstdio>
#include <optional>
#include <string>

namespace ferry::server {

struct user_command_options {
    std::string action;       // "add", "del", "passwd" or "list"
    std::string name;         // the user (not for list)
    std::string home;         // add: the home folder, written as given
    std::string options;      // add: the user's options ("readonly,download=1M"), or empty
    std::string users_file;   // --users FILE; otherwise...
    std::string config_file;  // ...the USERS statement of --config FILE
    bool password_stdin = false;  // read the password from standard input even from a terminal
};

// Runs the command, writing to out (list, what was done) and err (problems). Returns the exit
// status: 0 done, 1 the file could not be read or written, 2 wrong arguments or user.
int run_user_command(const user_command_options& o, std::FILE* out, std::FILE* err);

// A new password: from a terminal (standard input is one and from_stdin is false) asked twice
// without echo; otherwise the first line of standard input. Empty passwords are refused.
std::optional<std::string> read_new_password(bool from_stdin, std::string& error);

}  // namespace ferry::server
