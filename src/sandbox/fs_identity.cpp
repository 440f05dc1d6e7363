#include "sandbox/fs_identity.hpp"

#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace ferry::sandbox {
namespace {

// setfsuid/setfsgid report no error: they return the previous value, and an invalid id (-1)
// changes nothing, so this reads the current one.
uid_t current_fsuid() { return static_cast<uid_t>(::setfsuid(static_cast<uid_t>(-1))); }
gid_t current_fsgid() { return static_cast<gid_t>(::setfsgid(static_cast<gid_t>(-1))); }

// This thread only: glibc's setgroups() would change every thread of the process.
bool set_thread_groups(const std::vector<gid_t>& groups) {
    return ::syscall(SYS_setgroups, groups.size(), groups.empty() ? nullptr : groups.data()) == 0;
}

bool take(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) {
    if (!set_thread_groups(groups)) return false;
    ::setfsgid(gid);
    ::setfsuid(uid);
    return current_fsgid() == gid && current_fsuid() == uid;
}

}  // namespace

acting_as::acting_as(const fs_identity& id) : own_uid_(current_fsuid()), own_gid_(current_fsgid()) {
    int n = ::getgroups(0, nullptr);  // this thread's: the system call is per thread
    own_groups_.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    if (n > 0 && ::getgroups(n, own_groups_.data()) != n) throw std::system_error(errno, std::system_category(), "getgroups");
    if (!take(id.uid, id.gid, id.groups)) {
        const int e = errno ? errno : EPERM;
        if (!take(own_uid_, own_gid_, own_groups_)) std::abort();
        throw std::system_error(e, std::system_category(), "cannot act as uid " + std::to_string(id.uid));
    }
}

acting_as::~acting_as() {
    if (!take(own_uid_, own_gid_, own_groups_)) {
        std::fputs("ferryd: a disk thread could not return to its own identity; stopping\n", stderr);
        std::abort();
    }
}

}  // namespace ferry::sandbox
