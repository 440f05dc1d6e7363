// File operations confined to the root folder. Every path is opened with openat2(2)
// RESOLVE_BENEATH from the root's fd (detail::open_beneath); operations that act on a name
// (mkdir, unlink, rename, create) open the *parent* folder that way and then act on one plain
// leaf name with the *at() call, so no path component is ever resolved outside the kernel check.
#include "vfs/root.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <memory>

#include "vfs/detail/sys.hpp"

namespace ferry::vfs {

using detail::errno_code;
using detail::last_error;

namespace {

std::error_code fstat_fd(int fd, struct stat& st) {
    if (::fstat(fd, &st) != 0) return last_error();
    return {};
}

// Display name for the entry at vpath: its leaf, or "/" for the root.
std::string leaf_of(const std::string& vpath) {
    std::string parent, name;
    split(vpath, parent, name);
    return name.empty() ? std::string("/") : name;
}

}  // namespace

root root::open(const std::string& host_dir, std::error_code& ec) {
    root r;
    int fd = ::open(host_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        ec = last_error();
        return r;
    }
    r.dir_.reset(fd);
    ec.clear();
    return r;
}

unique_fd root::open_beneath(const std::string& vpath, int flags, int mode,
                             std::error_code& ec) const {
    if (!is_open()) {
        ec = errno_code(EBADF);
        return {};
    }
    return detail::open_beneath(dir_.get(), vpath, flags, mode, ec);
}

std::error_code root::stat(const std::string& vpath, proto::file_info& out) const {
    // Follows a symlink, but only to a target beneath the root (RETR/SIZE/MDTM/MLST of a link
    // describe what would be transferred). Listings show links themselves: see list().
    std::error_code ec;
    unique_fd fd = open_beneath(vpath, O_PATH, 0, ec);
    if (ec) return ec;
    struct stat st{};
    if (auto e = fstat_fd(fd.get(), st)) return e;
    detail::identity who;
    who.fill(out, st, leaf_of(vpath));
    return {};
}

std::error_code root::can_enter(const std::string& vpath) const {
    std::error_code ec;
    unique_fd fd = open_beneath(vpath, O_PATH | O_DIRECTORY, 0, ec);
    if (ec) return ec;
    // Search permission, checked with the thread's file-system identity (AT_EACCESS): a system
    // user cannot enter a folder their shell could not cd into.
    if (::faccessat(fd.get(), "", X_OK, AT_EACCESS | AT_EMPTY_PATH) != 0) return {errno, std::system_category()};
    return {};
}

unique_fd root::open_read(const std::string& vpath, std::error_code& ec) const {
    // SECURITY: denial of service. O_NONBLOCK so a FIFO planted in the tree cannot hang the
    // session in open(); O_NOCTTY so a tty cannot become our controlling terminal.
    unique_fd fd = open_beneath(vpath, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, ec);
    if (ec) return {};
    struct stat st{};
    if ((ec = fstat_fd(fd.get(), st))) return {};
    if (S_ISDIR(st.st_mode)) {
        ec = std::make_error_code(std::errc::is_a_directory);
        return {};
    }
    // SECURITY: only regular files are served (no devices, sockets or FIFOs).
    if (!S_ISREG(st.st_mode)) {
        ec = std::make_error_code(std::errc::permission_denied);
        return {};
    }
    int fl = ::fcntl(fd.get(), F_GETFL);
    if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) {
        ec = last_error();
        return {};
    }
    ec.clear();
    return fd;
}

struct root::dir_reader::state {
    std::unique_ptr<DIR, int (*)(DIR*)> dir{nullptr, ::closedir};
    detail::identity who;
};

root::dir_reader::dir_reader() = default;
root::dir_reader::dir_reader(dir_reader&&) noexcept = default;
root::dir_reader& root::dir_reader::operator=(dir_reader&&) noexcept = default;
root::dir_reader::~dir_reader() = default;

root::dir_reader root::read_dir(const std::string& vpath, std::error_code& ec) const {
    dir_reader r;
    unique_fd fd = open_beneath(vpath, O_RDONLY | O_DIRECTORY, 0, ec);
    if (ec) return r;
    DIR* raw = ::fdopendir(fd.get());
    if (!raw) {
        ec = last_error();
        return r;
    }
    fd.release();  // now owned by the DIR*
    r.state_ = std::make_unique<dir_reader::state>();
    r.state_->dir.reset(raw);
    ec.clear();
    return r;
}

std::vector<proto::file_info> root::dir_reader::next(std::size_t max, std::error_code& ec) {
    std::vector<proto::file_info> out;
    ec.clear();
    if (!state_ || !state_->dir) return out;
    DIR* dir = state_->dir.get();
    while (out.size() < max) {
        errno = 0;
        dirent* d = ::readdir(dir);
        if (!d) {
            if (errno != 0) ec = last_error();
            state_->dir.reset();  // the end (or an error): nothing more to read
            return out;
        }
        std::string_view name = d->d_name;
        // A name with CR or LF cannot be written on one line of LIST, NLST, MLSD or STAT (a
        // client would read part of it as another entry or reply): such names are left out.
        if (name == "." || name == ".." || name.starts_with(detail::temp_prefix) ||
            name.find_first_of("\r\n") != std::string_view::npos)
            continue;
        struct stat st{};
        // Links are listed as links (their own lstat): following them here would reveal
        // metadata of targets outside the root.
        if (::fstatat(::dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;  // removed while we were listing
            ec = last_error();
            state_->dir.reset();
            return out;
        }
        proto::file_info info;
        state_->who.fill(info, st, std::string(name));
        out.push_back(std::move(info));
    }
    return out;
}

std::vector<proto::file_info> root::list(const std::string& vpath, std::error_code& ec) const {
    std::vector<proto::file_info> out;
    dir_reader r = read_dir(vpath, ec);
    if (ec) return out;
    for (;;) {
        auto batch = r.next(4096, ec);
        if (ec) {
            out.clear();
            return out;
        }
        if (batch.empty()) break;
        std::move(batch.begin(), batch.end(), std::back_inserter(out));
    }
    std::sort(out.begin(), out.end(),
              [](const proto::file_info& a, const proto::file_info& b) { return a.name < b.name; });
    ec.clear();
    return out;
}

std::error_code root::make_dir(const std::string& vpath) const {
    std::error_code ec;
    std::string leaf;
    unique_fd parent = detail::open_parent(dir_.get(), vpath, leaf, true, ec);
    if (ec) return ec;
    if (::mkdirat(parent.get(), leaf.c_str(), 0777) != 0) return last_error();
    return {};
}

std::error_code root::remove_dir(const std::string& vpath) const {
    std::error_code ec;
    std::string leaf;
    // "/" has no leaf: open_parent refuses it (removing the user's root is meaningless).
    unique_fd parent = detail::open_parent(dir_.get(), vpath, leaf, false, ec);
    if (ec) return ec;
    if (::unlinkat(parent.get(), leaf.c_str(), AT_REMOVEDIR) != 0) return last_error();
    return {};
}

std::error_code root::remove_file(const std::string& vpath) const {
    std::error_code ec;
    std::string leaf;
    unique_fd parent = detail::open_parent(dir_.get(), vpath, leaf, false, ec);
    if (ec) return ec;
    // unlinkat never follows a symlink leaf: it removes the link, not its target.
    if (::unlinkat(parent.get(), leaf.c_str(), 0) != 0) return last_error();
    return {};
}

std::error_code root::rename(const std::string& from, const std::string& to) const {
    std::error_code ec;
    std::string from_leaf, to_leaf;
    unique_fd from_parent = detail::open_parent(dir_.get(), from, from_leaf, false, ec);
    if (ec) return ec;
    // SECURITY: path escape. The destination folder is opened beneath the root as well, so a
    // symlinked folder pointing outside cannot be used to move files out of (or into) the tree.
    unique_fd to_parent = detail::open_parent(dir_.get(), to, to_leaf, true, ec);
    if (ec) return ec;
    if (::renameat(from_parent.get(), from_leaf.c_str(), to_parent.get(), to_leaf.c_str()) != 0)
        return last_error();
    return {};
}

std::error_code root::set_mtime(const std::string& vpath, std::int64_t mtime) const {
    // SECURITY: path escape. utimensat(parent, leaf) would follow a symlink leaf anywhere on
    // the host; instead the target is opened beneath the root (O_PATH) and changed through
    // that fd.
    std::error_code ec;
    unique_fd fd = open_beneath(vpath, O_PATH, 0, ec);
    if (ec) return ec;
    timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = static_cast<time_t>(mtime);
    ts[1].tv_nsec = 0;
    if (::utimensat(fd.get(), "", ts, AT_EMPTY_PATH) != 0) return last_error();
    return {};
}

std::error_code root::chmod(const std::string& vpath, std::uint32_t mode) const {
    // SECURITY: path escape. fchmodat(parent, leaf) always follows a symlink leaf (Linux cannot
    // chmod links), which could reach outside the root; so chmod the O_PATH fd opened beneath.
    // SECURITY: privilege escalation: no set-user-ID, set-group-ID or sticky bit from a client,
    // and the home folder itself keeps the mode its administrator gave it.
    if ((mode & 07000) != 0 || vpath == "/") return std::make_error_code(std::errc::operation_not_permitted);
    std::error_code ec;
    unique_fd fd = open_beneath(vpath, O_PATH, 0, ec);
    if (ec) return ec;
    mode &= 0777;
#ifndef SYS_fchmodat2
    constexpr long SYS_fchmodat2 = 452;  // Linux 6.6; glibc 2.36 headers predate it
#endif
    if (::syscall(SYS_fchmodat2, fd.get(), "", static_cast<mode_t>(mode), AT_EMPTY_PATH) == 0)
        return {};
    if (errno != ENOSYS && errno != EINVAL) return last_error();
    // Older kernels: /proc/self/fd/N names exactly the file we opened (no new path lookup).
    std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
    if (::fchmodat(AT_FDCWD, proc.c_str(), static_cast<mode_t>(mode), 0) != 0) return last_error();
    return {};
}

}  // namespace ferry::vfs
