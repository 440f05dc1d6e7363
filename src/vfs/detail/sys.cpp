#include "vfs/detail/sys.hpp"

#include "vfs/root.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace ferry::vfs::detail {

std::error_code last_error() { return errno_code(errno); }

namespace {

// Host-relative form of a virtual path: "/a/b" -> "a/b", "/" -> ".".
bool to_relative(std::string_view vpath, std::string& rel) {
    // SECURITY: path truncation. A NUL inside a std::string would silently cut the C path
    // short and name a different file than the one checked by the caller.
    if (vpath.find('\0') != std::string_view::npos) return false;
    while (!vpath.empty() && vpath.front() == '/') vpath.remove_prefix(1);
    rel = vpath.empty() ? std::string(".") : std::string(vpath);
    return true;
}

}  // namespace

unique_fd open_beneath(int root_fd, std::string_view vpath, int flags, int mode,
                       std::error_code& ec) {
    std::string rel;
    if (!to_relative(vpath, rel)) {
        ec = errno_code(EINVAL);
        return {};
    }
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    // openat2 rejects a mode without O_CREAT/O_TMPFILE (unlike openat, which ignores it).
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? static_cast<std::uint64_t>(mode) : 0;
    // SECURITY: path escape. The kernel refuses any resolution that leaves root_fd: "..",
    // absolute symlinks, relative symlinks climbing out, and /proc magic links.
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
        long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how);
        if (fd >= 0) {
            ec.clear();
            return unique_fd(static_cast<int>(fd));
        }
        int e = errno;
        // EAGAIN: a concurrent rename/mount raced a ".." lookup; the kernel asks us to retry.
        if (e == EAGAIN && attempt < 16) continue;
        if (e == EINTR) continue;
        ec = e == EXDEV ? std::make_error_code(std::errc::permission_denied) : errno_code(e);
        return {};
    }
}

unique_fd open_parent(int root_fd, std::string_view vpath, std::string& leaf, bool creating,
                      std::error_code& ec) {
    std::string parent;
    split(vpath, parent, leaf);
    // SECURITY: path escape. The leaf goes to *at() calls without RESOLVE_BENEATH, so it must be
    // one plain name: never "/" itself, ".", "..", or anything containing '/' or NUL.
    if (leaf.empty() || leaf == "." || leaf == ".." ||
        leaf.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
        ec = std::make_error_code(std::errc::permission_denied);
        return {};
    }
    // The upload temp namespace is ours: a client must not create or rename onto such names
    // (they would vanish from listings and could collide with a running upload).
    // SECURITY: reply and listing injection: no new name may hold CR or LF, which would break
    // a listing line or a reply in two.
    if (creating && (std::string_view(leaf).starts_with(temp_prefix) || leaf.find_first_of("\r\n") != std::string::npos)) {
        ec = std::make_error_code(std::errc::permission_denied);
        return {};
    }
    return open_beneath(root_fd, parent, O_PATH | O_DIRECTORY, 0, ec);
}

std::string partial_name(std::string_view leaf) {
    if (partial_prefix.size() + leaf.size() > NAME_MAX) return {};
    return std::string(partial_prefix) + std::string(leaf);
}

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    std::size_t got = 0;
    while (got < bytes) {
        ssize_t n = ::getrandom(buf.data() + got, bytes - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<std::size_t>(n);
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    for (unsigned char c : buf) {
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

// ---- identity ----

identity::identity() : euid_(::geteuid()), egid_(::getegid()) {
    int n = ::getgroups(0, nullptr);
    if (n > 0) {
        groups_.resize(static_cast<std::size_t>(n));
        n = ::getgroups(n, groups_.data());
        groups_.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    }
}

bool identity::in_group(gid_t gid) const {
    if (gid == egid_) return true;
    for (gid_t g : groups_)
        if (g == gid) return true;
    return false;
}

const std::string& identity::user_name(uid_t uid) {
    auto it = users_.find(uid);
    if (it != users_.end()) return it->second;
    std::string name = std::to_string(uid);  // numeric fallback, like ls -n
    std::vector<char> buf(1024);
    for (;;) {
        passwd pw{};
        passwd* res = nullptr;
        int r = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res);
        if (r == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (r == 0 && res && res->pw_name) name = res->pw_name;
        break;
    }
    return users_.emplace(uid, std::move(name)).first->second;
}

const std::string& identity::group_name(gid_t gid) {
    auto it = groups_names_.find(gid);
    if (it != groups_names_.end()) return it->second;
    std::string name = std::to_string(gid);
    std::vector<char> buf(1024);
    for (;;) {
        group gr{};
        group* res = nullptr;
        int r = ::getgrgid_r(gid, &gr, buf.data(), buf.size(), &res);
        if (r == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (r == 0 && res && res->gr_name) name = res->gr_name;
        break;
    }
    return groups_names_.emplace(gid, std::move(name)).first->second;
}

void identity::fill(proto::file_info& out, const struct stat& st, std::string name) {
    using kind = proto::file_info::kind;
    out.name = std::move(name);
    if (S_ISREG(st.st_mode))
        out.type = kind::file;
    else if (S_ISDIR(st.st_mode))
        out.type = kind::dir;
    else if (S_ISLNK(st.st_mode))
        out.type = kind::link;
    else
        out.type = kind::other;
    out.size = st.st_size > 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    out.mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec);
    out.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
    out.nlink = static_cast<std::uint32_t>(st.st_nlink);
    out.owner = user_name(st.st_uid);
    out.group = group_name(st.st_gid);
    // Permission bits as the kernel would apply them to our effective ids (ACLs and read-only
    // mounts are not considered: this only feeds the MLSx "perm" hint, not access decisions).
    if (euid_ == 0) {
        out.readable = true;
        out.writable = true;
    } else {
        mode_t r = S_IROTH, w = S_IWOTH;
        if (st.st_uid == euid_) {
            r = S_IRUSR;
            w = S_IWUSR;
        } else if (in_group(st.st_gid)) {
            r = S_IRGRP;
            w = S_IWGRP;
        }
        out.readable = (st.st_mode & r) != 0;
        out.writable = (st.st_mode & w) != 0;
    }
}

}  // namespace ferry::vfs::detail
