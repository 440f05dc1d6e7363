#include "sandbox/sandbox.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <unistd.h>

namespace ferry::sandbox {

report apply(const plan& p) {
    report r;
    std::string why;
    if (p.user && ::geteuid() == 0) {
        if (!switch_user(*p.user, p.keep, why)) {
            r.missing.push_back(why);
            r.fatal = true;
            return r;
        }
        r.applied.push_back("user " + p.user->name + " (uid " + std::to_string(p.user->uid) + ")");
    } else if (p.user && p.user->uid != ::geteuid()) {
        r.missing.push_back("RUNAS " + p.user->name + ": not started as root, sessions run as uid " +
                            std::to_string(::geteuid()));
    }
    // Only what is needed stays: the uid change cleared the effective set, RUNAS root and an
    // unprivileged start may still hold capabilities.
    why.clear();
    if (!drop_capabilities(p.keep, why)) {
        r.missing.push_back(why);
        // SECURITY: system users' files must never be touched with the service user's rights.
        if (why.find("capset") != std::string::npos || (p.keep.identity_switch && !holds_identity_switch()))
            r.fatal = true;
    }
    std::string caps;
    if (holds_bind_service()) caps = "CAP_NET_BIND_SERVICE (ACTIVEDATAPORT 20)";
    if (holds_identity_switch()) caps += std::string(caps.empty() ? "" : ", ") + "CAP_SETUID+CAP_SETGID (system users' file rights)";
    r.applied.push_back("capabilities: " + (caps.empty() ? std::string("none") : caps + " only"));
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
        r.applied.push_back("no_new_privs");
    else
        r.missing.push_back("PR_SET_NO_NEW_PRIVS failed");
    if (!p.confine) {
        // SECURITY: with the identity capabilities kept, only seccomp stops setuid(0).
        if (p.keep.identity_switch) {
            r.missing.push_back("SANDBOX OFF with SYSTEMUSERS ON: CAP_SETUID would not be narrowed by seccomp");
            r.fatal = true;
            return r;
        }
        r.missing.push_back("SANDBOX OFF: no Landlock, no seccomp");
        return r;
    }
    why.clear();
    std::vector<std::string> unreachable;
    if (int abi = restrict_file_system(p.read_write, p.read_only, unreachable, why))
        r.applied.push_back("Landlock ABI " + std::to_string(abi) + " (" + std::to_string(p.read_write.size()) +
                            " folder(s) read-write, " + std::to_string(p.read_only.size()) + " read-only)");
    else
        r.missing.push_back("Landlock: " + why);
    for (const auto& path : unreachable) {
        bool home = std::find(p.read_write.begin(), p.read_write.end(), path) != p.read_write.end();
        r.missing.push_back(path + " is not reachable by uid " + std::to_string(::geteuid()) +
                            (home ? ": sessions of this home will fail (give it to the RUNAS user)"
                                  : " (a SIGHUP reload cannot read it)"));
    }
    why.clear();
    if (int n = restrict_system_calls(why, p.keep.identity_switch))
        r.applied.push_back("seccomp allow-list (" + std::to_string(n) + " rules)");
    else {
        r.missing.push_back("seccomp: " + why);
        if (p.keep.identity_switch) r.fatal = true;  // CAP_SETUID unnarrowed: refuse to serve
    }
    return r;
}

}  // namespace ferry::sandbox
