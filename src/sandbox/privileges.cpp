// RUNAS and capabilities.
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "sandbox/sandbox.hpp"

namespace ferry::sandbox {
namespace {

std::string err(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::optional<run_user> lookup(const std::string& name) {
    std::vector<char> buf(16384);
    passwd pw{}, *found = nullptr;
    if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
    run_user u{name, pw.pw_uid, pw.pw_gid, {}};
    int n = 64;
    u.groups.resize(n);
    while (::getgrouplist(name.c_str(), pw.pw_gid, u.groups.data(), &n) < 0) u.groups.resize(n);
    u.groups.resize(n);
    return u;
}

// Needs CAP_SETPCAP: done while still root, so that no capability can come back later through
// a file (NO_NEW_PRIVS forbids that too). Returns false if some could not be dropped.
bool kept(kept_capabilities keep, int cap) {
    return (keep.bind_service && cap == CAP_NET_BIND_SERVICE) ||
           (keep.identity_switch && (cap == CAP_SETUID || cap == CAP_SETGID));
}

bool empty_bounding_set(kept_capabilities keep) {
    bool all = true;
    for (int cap = 0; cap <= 63; ++cap) {
        if (kept(keep, cap)) continue;
        if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;  // unknown or already gone
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) all = false;
    }
    return all;
}

}  // namespace

std::optional<run_user> resolve_run_user(const std::string& runas, std::string& why) {
    if (::geteuid() != 0 && runas.empty()) {
        // Not root: nobody to switch from; sessions run as whoever started ferryd.
        run_user self{std::to_string(::geteuid()), ::geteuid(), ::getegid(), {}};
        std::vector<char> buf(16384);
        passwd pw{}, *found = nullptr;
        if (::getpwuid_r(self.uid, &pw, buf.data(), buf.size(), &found) == 0 && found) self.name = pw.pw_name;
        return self;
    }
    std::string name = runas.empty() ? "ferry" : runas;
    auto u = lookup(name);
    if (!u) {
        why = runas.empty()
                  ? "started as root with no RUNAS statement and no user 'ferry': sessions would run as root. "
                    "Create a service user (useradd --system --no-create-home --shell /usr/sbin/nologin ferry), "
                    "name one with RUNAS user, or write RUNAS root to accept sessions as root"
                  : "RUNAS " + runas + ": no such user";
        return std::nullopt;
    }
    return u;
}

bool switch_user(const run_user& u, kept_capabilities keep, std::string& why) {
    if (::geteuid() != 0) {
        why = "not started as root: sessions run as uid " + std::to_string(::geteuid());
        return false;
    }
    if (!empty_bounding_set(keep)) return why = err("PR_CAPBSET_DROP"), false;
    if (u.uid == 0) return true;  // RUNAS root: no switch; drop_capabilities still applies
    // Keep the permitted set across the uid change only if a capability must survive it.
    if ((keep.bind_service || keep.identity_switch) && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        return why = err("PR_SET_KEEPCAPS"), false;
    if (::setgroups(u.groups.size(), u.groups.data()) != 0) return why = err("setgroups"), false;
    if (::setresgid(u.gid, u.gid, u.gid) != 0) return why = err("setresgid"), false;
    if (::setresuid(u.uid, u.uid, u.uid) != 0) return why = err("setresuid"), false;
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    // SECURITY: prove there is no way back.
    uid_t r, e, s;
    // (With CAP_SETUID kept for system users, setuid(0) would succeed here: seccomp forbids it
    // from the moment the sandbox is complete; the ids are still checked.)
    if (::getresuid(&r, &e, &s) != 0 || r != u.uid || e != u.uid || s != u.uid ||
        (!keep.identity_switch && ::setuid(0) == 0))
        return why = "the switch to " + u.name + " did not hold", false;
    return true;
}

namespace {
std::uint32_t effective_capabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    return ::syscall(SYS_capget, &header, data) == 0 ? data[0].effective : 0;
}
}  // namespace

bool holds_bind_service() { return effective_capabilities() & (1u << CAP_NET_BIND_SERVICE); }

bool holds_identity_switch() {
    const std::uint32_t both = (1u << CAP_SETUID) | (1u << CAP_SETGID);
    return (effective_capabilities() & both) == both;
}

bool drop_capabilities(kept_capabilities keep, std::string& why) {
    const bool bounded = empty_bounding_set(keep);
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) return why = err("capget"), false;
    std::uint32_t mask = 0;
    for (int cap : {CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID})
        if (kept(keep, cap) && (data[0].permitted & (1u << cap))) mask |= 1u << cap;
    data[0] = {mask, mask, 0};
    data[1] = {0, 0, 0};
    if (::syscall(SYS_capset, &header, data) != 0) return why = err("capset"), false;
    if (keep.identity_switch && (mask & ((1u << CAP_SETUID) | (1u << CAP_SETGID))) != ((1u << CAP_SETUID) | (1u << CAP_SETGID)))
        return why = "CAP_SETUID and CAP_SETGID are not held: system users cannot get their own rights", false;
    if (!bounded) why = "the capability bounding set stays as inherited (emptying it needs CAP_SETPCAP)";
    return bounded;
}

}  // namespace ferry::sandbox
