#pragma once
// Checks ferryd makes before it serves: files it trusts must not be writable by others, the
// effective settings that leave something in clear are named. Pure file-system and settings
// work: no sockets.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"

namespace ferry::server {

// Names of files in the configuration (USERS, KEYRING, CAFILE, CERTMAP, CRLFILE, XFERLOG) that are
// relative are made relative to the configuration file's folder.
void resolve_relative_names(config::server_settings& s, const std::string& config_file);

// SECURITY: planted credentials or keys: a file that grants logins or holds the private key must
// not be writable by group or others; with must_be_ours it must also belong to us (or root).
// Returns what is wrong, naming the file and how to fix it, or nothing.
std::optional<std::string> check_trusted_file(const std::string& path, const std::string& what, bool must_be_ours);

// A state folder for ferryd's own files (serve's key): created 0700 if missing; refused if it
// is not ours or others can write to it.
std::optional<std::string> make_private_dir(const std::string& path);

// One line per effective setting that leaves logins, data or the data connection's owner
// unprotected (the statement defaults stay as the seed defines them; this only says so).
std::vector<std::string> insecure_settings(const config::server_settings& s);

// What the serving process may still reach once confined (Landlock): the homes read-write; the
// files SIGHUP re-reads (KEYRING, CAFILE, CRLFILE, USERS, CERTMAP and config_file) read-only by
// their folder (a renewed certificate is a new file; a file directly in / or /etc is allowed
// alone); the resolver's files, shared libraries and /dev/null read-only. Paths that do not exist
// are left out. XFERLOG's folder is read-write (SIGHUP creates the log anew after logrotate).
struct confinement_paths {
    std::vector<std::string> read_write;
    std::vector<std::string> read_only;
};
confinement_paths paths_after_start(const config::server_settings& s, const std::vector<std::string>& homes,
                                    const std::string& config_file = {});

}  // namespace ferry::server
