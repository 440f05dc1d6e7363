#pragma once
// A user's file tree, confined to one host folder. Every access goes through openat2(2) with
// RESOLVE_BENEATH relative to the root's directory fd, so neither "..", absolute paths nor
// symlinks (absolute or relative) can reach outside: the kernel enforces it, not string checks.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "proto/listing.hpp"
#include "vfs/unique_fd.hpp"

namespace ferry::vfs {

// Lexical join + normalisation of a client path against the virtual working directory.
// Always returns an absolute virtual path ("/", "/a/b"); ".." at the top stays at "/".
// Pure function: touches no file system.
std::string resolve(std::string_view cwd, std::string_view client_path);

// Splits "/a/b/c" into parent "/a/b" and name "c". Name is empty for "/".
void split(std::string_view vpath, std::string& parent, std::string& name);

// Removes the upload temporaries that a crash left below host_dir (nothing else writes there
// while ferryd starts); kept partials stay. Visits at most max_entries entries, follows no
// symlink; returns how many files were removed.
std::size_t remove_stale_uploads(const std::string& host_dir, std::size_t max_entries = 1'000'000);

class root {
public:
    root() = default;
    // Opens the host folder (must exist and be a directory).
    static root open(const std::string& host_dir, std::error_code& ec);

    bool is_open() const { return dir_.valid(); }

    // All vpaths below are absolute virtual paths as produced by resolve().
    std::error_code stat(const std::string& vpath, proto::file_info& out) const;
    // CWD: ok if vpath is a folder the caller may search (enter), else not_a_directory etc.
    std::error_code can_enter(const std::string& vpath) const;
    unique_fd open_read(const std::string& vpath, std::error_code& ec) const;
    // Entries of a directory, without "." and "..", sorted by name. Upload temp files are hidden.
    std::vector<proto::file_info> list(const std::string& vpath, std::error_code& ec) const;
    // A folder read a few entries at a time, in the order the file system returns them, so that
    // a listing of a huge folder needs bounded memory. Entries as list() gives them. Used by one
    // thread at a time (it may move between threads).
    class dir_reader {
    public:
        dir_reader();
        dir_reader(dir_reader&&) noexcept;
        dir_reader& operator=(dir_reader&&) noexcept;
        ~dir_reader();
        // Up to max entries; empty once the folder is exhausted (or on error, in ec).
        std::vector<proto::file_info> next(std::size_t max, std::error_code& ec);

    private:
        friend class root;
        struct state;
        std::unique_ptr<state> state_;
    };
    dir_reader read_dir(const std::string& vpath, std::error_code& ec) const;
    std::error_code make_dir(const std::string& vpath) const;
    std::error_code remove_dir(const std::string& vpath) const;
    std::error_code remove_file(const std::string& vpath) const;
    std::error_code rename(const std::string& from, const std::string& to) const;
    std::error_code set_mtime(const std::string& vpath, std::int64_t mtime) const;
    std::error_code chmod(const std::string& vpath, std::uint32_t mode) const;

    // Uploads. replace: written to a temp file in the target folder, renamed over the target by
    // commit(); the old file stays untouched until then. An interrupted upload is either
    // destroyed (abort) or kept as the target's hidden partial (keep_partial).
    // append: writes at the end of the existing file (created if missing).
    // at_offset: REST+STOR. If the target has a partial at least offset bytes long, the partial is
    // continued from offset and renamed over the target by commit() (the old file untouched until
    // then); else the target itself is written from offset, and cut there by start_writing() once
    // the data connection is open (it must exist if offset>0): a resume whose data connection
    // never comes leaves the file as it was.
    // unique: STOU, creates a new file with a name derived from vpath (chosen name in final_name()).
    enum class write_mode { replace, append, at_offset, unique };
    class upload {
    public:
        upload() = default;
        upload(upload&&) noexcept;
        upload& operator=(upload&&) noexcept;
        ~upload();  // aborts if not committed
        int fd() const { return fd_.get(); }
        // Before the first byte is written (the data connection is open): a REST+STOR written in
        // place drops what lay past the offset. No-op for other uploads (cuts() is false).
        std::error_code start_writing();
        bool cuts() const { return cut_at_.has_value(); }
        std::error_code commit();
        void abort();
        // Ends an interrupted upload without touching the target: what was written stays as the
        // target's partial (hidden, resumed by REST + STOR), replacing an older partial. Uploads
        // that write in place (append, at_offset without a partial) keep what they wrote; STOU's
        // new file is removed. Returns the bytes kept in a partial (0: none kept).
        std::uint64_t keep_partial();
        // For an upload whose end is not yet certain (ended by a bare FIN): replaces the target at
        // once, but keeps the previous file under a hidden name until settle(). Only for uploads
        // written beside the target (replace, a continued partial); operation_not_supported (and
        // nothing done) when the previous file cannot be kept, e.g. a hard link is refused.
        std::error_code commit_provisionally();
        // After commit_provisionally: keep drops the previous file; otherwise it is put back in
        // place and the upload becomes the target's partial (returns its size).
        std::uint64_t settle(bool keep);
        const std::string& final_name() const { return final_name_; }  // vpath of the target

    private:
        friend class root;
        unique_fd fd_;
        unique_fd parent_;
        std::string temp_name_;     // name in parent when writing to a temp file (or the partial)
        std::string partial_name_;  // the target's partial name in parent (empty: none is kept)
        std::string final_leaf_;    // name in parent to rename to
        std::string final_name_;
        bool done_ = true;
        std::optional<std::uint64_t> cut_at_;  // in-place REST+STOR: the offset, until start_writing
        // commit_provisionally: the previous file's hidden name (empty: there was none) and the
        // upload's identity, so that settle() never touches a file that replaced it since.
        bool provisional_ = false;
        std::string previous_name_;
        std::uint64_t dev_ = 0, ino_ = 0, size_ = 0;
    };
    upload begin_upload(const std::string& vpath, write_mode mode, std::uint64_t offset,
                        std::error_code& ec) const;
    // Size of vpath's partial (an interrupted upload kept by keep_partial), if there is one.
    std::optional<std::uint64_t> partial_size(const std::string& vpath) const;

private:
    unique_fd open_beneath(const std::string& vpath, int flags, int mode, std::error_code& ec) const;
    unique_fd dir_;
};

}  // namespace ferry::vfs
