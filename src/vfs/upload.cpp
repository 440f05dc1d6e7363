// Uploads. STOR (replace) writes to a temp file beside the target and renames it over the
// target on commit, so an interrupted or refused upload never destroys the old file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "vfs/detail/sys.hpp"
#include "vfs/root.hpp"

namespace ferry::vfs {

using detail::errno_code;
using detail::last_error;

namespace {

std::error_code clear_nonblock(int fd) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) return last_error();
    return {};
}

}  // namespace

root::upload::upload(upload&& o) noexcept
    : fd_(std::move(o.fd_)),
      parent_(std::move(o.parent_)),
      temp_name_(std::move(o.temp_name_)),
      partial_name_(std::move(o.partial_name_)),
      final_leaf_(std::move(o.final_leaf_)),
      final_name_(std::move(o.final_name_)),
      done_(std::exchange(o.done_, true)),
      cut_at_(std::exchange(o.cut_at_, std::nullopt)),
      provisional_(std::exchange(o.provisional_, false)),
      previous_name_(std::move(o.previous_name_)),
      dev_(o.dev_),
      ino_(o.ino_),
      size_(o.size_) {}

root::upload& root::upload::operator=(upload&& o) noexcept {
    if (this != &o) {
        abort();
        fd_ = std::move(o.fd_);
        parent_ = std::move(o.parent_);
        temp_name_ = std::move(o.temp_name_);
        partial_name_ = std::move(o.partial_name_);
        final_leaf_ = std::move(o.final_leaf_);
        final_name_ = std::move(o.final_name_);
        done_ = std::exchange(o.done_, true);
        cut_at_ = std::exchange(o.cut_at_, std::nullopt);
        provisional_ = std::exchange(o.provisional_, false);
        previous_name_ = std::move(o.previous_name_);
        dev_ = o.dev_;
        ino_ = o.ino_;
        size_ = o.size_;
    }
    return *this;
}

root::upload::~upload() { abort(); }

std::error_code root::upload::start_writing() {
    if (!cut_at_) return {};
    const auto at = static_cast<off_t>(*std::exchange(cut_at_, std::nullopt));
    if (::ftruncate(fd_.get(), at) != 0) return last_error();
    return {};
}

std::error_code root::upload::commit() {
    if (done_ || !fd_.valid()) return std::make_error_code(std::errc::bad_file_descriptor);
    // close() can report a deferred write error (NFS, quota): then the upload failed.
    int fd = fd_.release();
    if (::close(fd) != 0 && errno != EINTR) {
        auto ec = last_error();
        abort();
        return ec;
    }
    if (!temp_name_.empty() && temp_name_ != final_leaf_) {
        // renameat replaces a file (or a symlink, not its target) atomically; a directory
        // created meanwhile under the target name makes it fail with EISDIR.
        if (::renameat(parent_.get(), temp_name_.c_str(), parent_.get(), final_leaf_.c_str()) != 0) {
            auto ec = last_error();
            abort();
            return ec;
        }
        // A complete upload supersedes an older interrupted one of the same name.
        if (!partial_name_.empty() && partial_name_ != temp_name_)
            ::unlinkat(parent_.get(), partial_name_.c_str(), 0);
        temp_name_.clear();
    }
    done_ = true;
    parent_.reset();
    return {};
}

std::error_code root::upload::commit_provisionally() {
    if (done_ || !fd_.valid()) return std::make_error_code(std::errc::bad_file_descriptor);
    if (temp_name_.empty() || temp_name_ == final_leaf_ || partial_name_.empty())
        return std::make_error_code(std::errc::operation_not_supported);
    struct stat mine{}, previous{};
    if (::fstat(fd_.get(), &mine) != 0) return last_error();
    std::string previous_name;
    if (::fstatat(parent_.get(), final_leaf_.c_str(), &previous, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(previous.st_mode)) return std::make_error_code(std::errc::is_a_directory);
        previous_name = std::string(detail::temp_prefix) + detail::random_hex(8);
        // A second name for the previous file (a symlink stays a symlink): nothing is copied.
        if (::linkat(parent_.get(), final_leaf_.c_str(), parent_.get(), previous_name.c_str(), 0) != 0)
            return std::make_error_code(std::errc::operation_not_supported);
    } else if (errno != ENOENT) {
        return last_error();
    }
    // commit() lets go of the folder; settle() still needs it.
    unique_fd folder(::fcntl(parent_.get(), F_DUPFD_CLOEXEC, 0));
    if (!folder.valid()) {
        std::error_code ec = last_error();
        if (!previous_name.empty()) ::unlinkat(parent_.get(), previous_name.c_str(), 0);
        return ec;
    }
    std::error_code ec = commit();
    parent_ = std::move(folder);
    if (ec) {
        if (!previous_name.empty()) ::unlinkat(parent_.get(), previous_name.c_str(), 0);
        parent_.reset();
        return ec;
    }
    provisional_ = true;
    previous_name_ = std::move(previous_name);
    dev_ = mine.st_dev;
    ino_ = mine.st_ino;
    size_ = static_cast<std::uint64_t>(mine.st_size);
    return {};
}

std::uint64_t root::upload::settle(bool keep) {
    if (!provisional_) return 0;
    provisional_ = false;
    std::uint64_t kept = 0;
    struct stat now{};
    const bool still_ours = ::fstatat(parent_.get(), final_leaf_.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                            now.st_dev == dev_ && now.st_ino == ino_;
    if (!keep && still_ours) {
        // The upload goes to the partial's name (a second link), then the previous file goes
        // back over the target in one rename: the target never disappears.
        ::unlinkat(parent_.get(), partial_name_.c_str(), 0);
        if (size_ > 0 && ::linkat(parent_.get(), final_leaf_.c_str(), parent_.get(), partial_name_.c_str(), 0) == 0)
            kept = size_;
        if (!previous_name_.empty())
            ::renameat(parent_.get(), previous_name_.c_str(), parent_.get(), final_leaf_.c_str());
        else
            ::unlinkat(parent_.get(), final_leaf_.c_str(), 0);
    }
    if (!previous_name_.empty()) ::unlinkat(parent_.get(), previous_name_.c_str(), 0);  // gone if renamed back
    previous_name_.clear();
    parent_.reset();
    return kept;
}

void root::upload::abort() {
    if (provisional_) {
        settle(true);  // a committed upload stays committed
        return;
    }
    fd_.reset();
    // A continued partial stays: it still holds the bytes received before.
    if (!done_ && parent_.valid() && !temp_name_.empty() && temp_name_ != partial_name_)
        ::unlinkat(parent_.get(), temp_name_.c_str(), 0);
    temp_name_.clear();
    parent_.reset();
    done_ = true;
}

std::uint64_t root::upload::keep_partial() {
    if (done_ || !fd_.valid() || !parent_.valid() || temp_name_.empty() || partial_name_.empty()) {
        abort();  // written in place (nothing to undo), STOU's new file, or no partial name fits
        return 0;
    }
    struct stat st{};
    const bool have = ::fstat(fd_.get(), &st) == 0 && st.st_size > 0;
    fd_.reset();
    if (!have || (temp_name_ != partial_name_ &&
                  ::renameat(parent_.get(), temp_name_.c_str(), parent_.get(), partial_name_.c_str()) != 0)) {
        partial_name_.clear();  // so that abort() removes what is there
        abort();
        return 0;
    }
    temp_name_.clear();
    parent_.reset();
    done_ = true;
    return static_cast<std::uint64_t>(st.st_size);
}

std::optional<std::uint64_t> root::partial_size(const std::string& vpath) const {
    std::error_code ec;
    std::string leaf;
    unique_fd parent = detail::open_parent(dir_.get(), vpath, leaf, false, ec);
    std::string name = detail::partial_name(leaf);
    struct stat st{};
    if (ec || name.empty() || ::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
        return std::nullopt;
    return static_cast<std::uint64_t>(st.st_size);
}

root::upload root::begin_upload(const std::string& vpath, write_mode mode, std::uint64_t offset,
                                std::error_code& ec) const {
    upload up;
    if (!is_open()) {
        ec = errno_code(EBADF);
        return up;
    }
    std::string leaf, parent_vpath;
    up.parent_ = detail::open_parent(dir_.get(), vpath, leaf, true, ec);
    if (ec) return up;
    split(vpath, parent_vpath, leaf);
    auto join = [&](const std::string& name) {
        return parent_vpath == "/" ? "/" + name : parent_vpath + "/" + name;
    };

    switch (mode) {
    case write_mode::replace: {
        mode_t file_mode = 0;  // 0: new file, the process umask (UMASK) decides
        struct stat st{};
        if (::fstatat(up.parent_.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(st.st_mode)) {
                ec = std::make_error_code(std::errc::is_a_directory);
                return up;
            }
            // SECURITY: only regular files are written, as in the other modes: a FIFO, device or
            // socket planted under the name is refused, not silently replaced.
            if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
                ec = std::make_error_code(std::errc::permission_denied);
                return up;
            }
            // Keep the permissions of the file being replaced (never set-id bits), as an
            // in-place overwrite would.
            if (S_ISREG(st.st_mode)) file_mode = st.st_mode & 0777;
        } else if (errno != ENOENT) {
            ec = last_error();
            return up;
        }
        for (int attempt = 0; attempt < 8; ++attempt) {
            std::string temp = std::string(detail::temp_prefix) + detail::random_hex(8);
            // O_EXCL: never opens an existing file or follows a symlink planted under the name.
            int fd = ::openat(up.parent_.get(), temp.c_str(),
                              O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
            if (fd >= 0) {
                up.fd_.reset(fd);
                up.temp_name_ = std::move(temp);
                break;
            }
            if (errno != EEXIST) {
                ec = last_error();
                return up;
            }
        }
        if (!up.fd_.valid()) {
            ec = errno_code(EEXIST);
            return up;
        }
        up.done_ = false;  // from here on, abort() removes the temp file
        if (file_mode != 0 && ::fchmod(up.fd_.get(), file_mode) != 0) {
            ec = last_error();
            up.abort();
            return up;
        }
        up.partial_name_ = detail::partial_name(leaf);
        up.final_leaf_ = leaf;
        up.final_name_ = join(leaf);
        ec.clear();
        return up;
    }
    case write_mode::at_offset:
        if (std::string partial = detail::partial_name(leaf); !partial.empty()) {
            // An interrupted upload of this name was kept: REST + STOR continues it, and the
            // target stays untouched until the commit.
            int fd = ::openat(up.parent_.get(), partial.c_str(),
                              O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
            if (fd >= 0) {
                up.fd_.reset(fd);
                struct stat st{};
                if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                    ec = S_ISREG(st.st_mode) ? last_error() : std::make_error_code(std::errc::permission_denied);
                    up.fd_.reset();
                    return up;
                }
                if (offset > static_cast<std::uint64_t>(st.st_size)) {
                    ec = std::make_error_code(std::errc::invalid_argument);
                    up.fd_.reset();
                    return up;
                }
                if (::ftruncate(fd, static_cast<off_t>(offset)) != 0 ||
                    ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0 || (ec = clear_nonblock(fd))) {
                    if (!ec) ec = last_error();
                    up.fd_.reset();
                    return up;
                }
                up.temp_name_ = partial;
                up.partial_name_ = std::move(partial);
                up.final_leaf_ = leaf;
                up.final_name_ = join(leaf);
                up.done_ = false;
                ec.clear();
                return up;
            }
            if (errno != ENOENT) {
                ec = last_error();
                return up;
            }
        }
        [[fallthrough]];
    case write_mode::append: {
        // Opened by full path beneath the root (not parent + leaf): a symlink leaf is followed
        // only if its target stays inside. O_NONBLOCK: a FIFO without reader fails (ENXIO)
        // instead of blocking the session.
        int flags = O_WRONLY | O_NONBLOCK | O_NOCTTY;
        if (mode == write_mode::append) flags |= O_APPEND | O_CREAT;
        else if (offset == 0) flags |= O_CREAT;
        up.parent_.reset();
        up.fd_ = open_beneath(vpath, flags, 0666, ec);
        if (ec) return up;
        struct stat st{};
        if (::fstat(up.fd_.get(), &st) != 0) {
            ec = last_error();
            up.fd_.reset();
            return up;
        }
        // SECURITY: only regular files are written (no devices, sockets or FIFOs).
        if (!S_ISREG(st.st_mode)) {
            ec = std::make_error_code(S_ISDIR(st.st_mode) ? std::errc::is_a_directory
                                                          : std::errc::permission_denied);
            up.fd_.reset();
            return up;
        }
        if (mode == write_mode::at_offset) {
            // REST beyond the end would leave a hole of zeros: refuse it.
            if (offset > static_cast<std::uint64_t>(st.st_size)) {
                ec = std::make_error_code(std::errc::invalid_argument);
                up.fd_.reset();
                return up;
            }
            if (::lseek(up.fd_.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
                ec = last_error();
                up.fd_.reset();
                return up;
            }
            up.cut_at_ = offset;
        }
        if ((ec = clear_nonblock(up.fd_.get()))) {
            up.fd_.reset();
            return up;
        }
        up.final_leaf_ = leaf;
        up.final_name_ = join(leaf);
        up.done_ = false;  // nothing to undo on abort: the writes went to the file itself
        ec.clear();
        return up;
    }
    case write_mode::unique: {
        // "name", then "name.1", "name.2", ... created with O_EXCL so an existing file (or a
        // symlink) is never reused. The file is new, so it is written in place; abort() removes it.
        for (unsigned n = 0; n < 1000; ++n) {
            std::string candidate = n == 0 ? leaf : leaf + "." + std::to_string(n);
            int fd = ::openat(up.parent_.get(), candidate.c_str(),
                              O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
            if (fd >= 0) {
                up.fd_.reset(fd);
                // Reuse temp_name_ so abort() unlinks the half-written file; commit() keeps it.
                up.temp_name_ = candidate;
                up.final_leaf_ = candidate;
                up.final_name_ = join(candidate);
                up.done_ = false;
                ec.clear();
                return up;
            }
            if (errno != EEXIST) {
                ec = last_error();
                return up;
            }
        }
        ec = errno_code(EEXIST);
        return up;
    }
    }
    ec = std::make_error_code(std::errc::invalid_argument);
    return up;
}

std::size_t remove_stale_uploads(const std::string& home, std::size_t max_entries) {
    namespace fs = std::filesystem;
    std::size_t removed = 0, seen = 0;
    std::error_code ec;
    // Symlinks are not followed: only the folder's own tree is cleaned.
    for (fs::recursive_directory_iterator it(home, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end && seen < max_entries; it.increment(ec), ++seen) {
        const std::string name = it->path().filename().string();
        if (!name.starts_with(detail::temp_prefix) || name.starts_with(detail::partial_prefix)) continue;
        std::error_code rm;
        if (it->is_regular_file(rm) && !it->is_symlink(rm) && fs::remove(it->path(), rm)) ++removed;
    }
    return removed;
}

}  // namespace ferry::vfs
