#pragma once
// Internals shared by root.cpp and upload.cpp: confined opens, leaf-name checks, stat -> file_info.
#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "proto/listing.hpp"
#include "vfs/unique_fd.hpp"

namespace ferry::vfs::detail {

// Uploads in progress are written to "<folder>/.ferry-upload-<random>" and hidden from listings.
inline constexpr std::string_view temp_prefix = ".ferry-upload-";
// An interrupted upload of "name" is kept as "<folder>/.ferry-upload-part.name" (hidden too).
inline constexpr std::string_view partial_prefix = ".ferry-upload-part.";
// The partial's name for a leaf; empty if it would not fit in a file name (nothing is kept then).
std::string partial_name(std::string_view leaf);

inline std::error_code errno_code(int e) { return {e, std::generic_category()}; }
std::error_code last_error();  // errno as an error_code

// Opens vpath (absolute virtual path) beneath root_fd with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS). O_CLOEXEC is always added. An escape attempt (EXDEV from the kernel)
// is reported as std::errc::permission_denied: the client only needs "550 not allowed".
unique_fd open_beneath(int root_fd, std::string_view vpath, int flags, int mode,
                       std::error_code& ec);

// Opens the folder holding vpath (O_PATH | O_DIRECTORY, beneath the root) and returns the leaf
// name in leaf. Fails for "/" itself and for leaves that are not a single plain name.
// creating: the leaf will be created or renamed to, so reserved names are refused too.
unique_fd open_parent(int root_fd, std::string_view vpath, std::string& leaf, bool creating,
                      std::error_code& ec);

// Random lowercase hex string of 2 * bytes characters, from getrandom(2).
std::string random_hex(std::size_t bytes);

// Who we are (effective ids) and cached uid/gid -> name lookups, for filling file_info.
class identity {
public:
    identity();
    void fill(proto::file_info& out, const struct stat& st, std::string name);

private:
    const std::string& user_name(uid_t uid);
    const std::string& group_name(gid_t gid);
    bool in_group(gid_t gid) const;

    uid_t euid_;
    gid_t egid_;
    std::vector<gid_t> groups_;
    std::unordered_map<uid_t, std::string> users_;
    std::unordered_map<gid_t, std::string> groups_names_;
};

}  // namespace ferry::vfs::detail
