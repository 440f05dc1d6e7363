#pragma once
// `mirror`'s decisions, sans-I/O: from the source and destination trees (as listed or walked)
// and the options, the actions that make the destination equal to the source. The caller walks
// the trees and carries the actions out; everything that can be decided without a socket or a
// disk is decided here and unit-tested.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::client {

enum class tree_type { file, dir, symlink };

struct tree_entry {
    std::string path;  // relative to the tree's root, '/'-separated, no leading or trailing '/'
    tree_type type = tree_type::file;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;  // seconds since the epoch, UTC
};

struct mirror_options {
    bool delete_extra = false;          // --delete: remove what the source lacks
    std::vector<std::string> include;   // --include GLOB: when any, only matching files
    std::vector<std::string> exclude;   // --exclude GLOB: never touched (neither sent nor deleted)
    bool checksum = false;              // same size: compare contents (HASH), not mtimes
};

enum class action_kind {
    mkdir,        // create the folder path
    transfer,     // copy the file path (from resume_offset when > 0: a partial temp file is there)
    compare,      // checksum mode: same size; the contents decide whether to transfer
    remove_file,  // delete the destination file (or symlink) path
    remove_dir,   // delete the (by then empty) destination folder path
    skip,         // unchanged: same size and mtime
};

struct mirror_action {
    action_kind kind = action_kind::skip;
    std::string path;
    std::uint64_t size = 0;           // the source's size (transfer, compare, skip)
    std::int64_t mtime = 0;           // the source's mtime, to set on the copy
    std::uint64_t resume_offset = 0;  // transfer: bytes already in the temp file
};

struct mirror_plan {
    std::vector<mirror_action> actions;  // in order: a folder before its contents, contents before their folder's removal
    std::vector<std::string> warnings;   // entries left alone, and why
};

// SECURITY: path escape. A name from a server listing is one path component: not empty, not
// "." or "..", without '/', NUL or control characters. Anything else is refused.
bool safe_name(std::string_view name);
// Every '/'-separated component is a safe_name.
bool safe_relative_path(std::string_view path);

// The temporary name a download is written to until it is complete: "dir/.name.ferry-part".
std::string part_path(std::string_view path);
// "dir/.name.ferry-part" -> true (and "dir/name" in target).
bool is_part_path(std::string_view path, std::string* target = nullptr);

// An --include/--exclude glob against the relative path or its base name (fnmatch).
bool glob_matches(const std::string& pattern, std::string_view path);
// Whether path is mirrored at all: not excluded (nor any folder above it), and for a file,
// matching an include when there are any.
bool selected(const mirror_options& o, std::string_view path, tree_type type);

// The plan. Entries may come in any order; those with unsafe paths are skipped with a warning.
mirror_plan plan_mirror(std::vector<tree_entry> source, std::vector<tree_entry> destination, const mirror_options& o);

// "mkdir a/b", "transfer a/f (12 bytes)", ... for --dry-run.
std::string describe(const mirror_action& a);

}  // namespace ferry::client
