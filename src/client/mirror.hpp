#pragma once
// `mirror`: what the user asked for, the local tree walk and the small parsers the transfer
// loop (shell_mirror.cpp) needs. The decisions themselves are in mirror_plan.hpp.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/mirror_plan.hpp"

namespace ferry::client {

struct mirror_request {
    bool upload = false;      // -R: local -> remote
    std::string local_root;   // LOCALDIR
    std::string remote_root;  // REMOTEDIR (relative to the login folder, or absolute)
    mirror_options plan;
    bool dry_run = false;
    bool verify = false;
    unsigned parallel = 1;    // -P N sessions
};

// The words of `mirror [-R] [--delete] [--dry-run] [--verify] [--checksum] [--exclude G] [--include G]
// [-P N] SOURCE DEST` (SOURCE is the local folder with -R). nullopt + error on bad usage.
std::optional<mirror_request> parse_mirror_words(const std::vector<std::string>& words, std::string& error);

// The local tree under root. Symbolic links: with follow_inside, one pointing inside root is
// walked as what it points to (each folder once); otherwise, and always when it points outside
// root, it is reported as a symlink (SECURITY: path escape: an upload never reads outside the
// tree through a link). Names that are not safe_name are left out with a warning.
std::vector<tree_entry> walk_local(const std::string& root, bool follow_inside, std::vector<std::string>& warnings);

// "213 SHA-256 0-1234 <hex> path" (or "0-1233", the draft's inclusive end): the hex digest
// (lowercase) when the reply is a SHA-256 of the whole file of this size; nullopt otherwise.
std::optional<std::string> parse_hash_reply(int code, std::string_view text, std::uint64_t size);

}  // namespace ferry::client
