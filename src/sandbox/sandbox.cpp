#include "sandbox/sandbox.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <unistd.h>

namespace ferry::sandbox {

report apply(const plan& p) {
    report r;
    std::string why;
    if (p.user && ::geteuid() == 0) {
        if (!switch_user(*p.user, p.keep_bind_service, why)) {
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
    if (!drop_capabilities(p.keep_bind_service, why)) {
        r.missing.push_back(why);
        if (why.find("capset") != std::string::npos) r.fatal = true;
    }
    r.applied.push_back(holds_bind_service() ? "capabilities: CAP_NET_BIND_SERVICE only (ACTIVEDATAPORT 20)"
                                             : "capabilities: none");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
        r.applied.push_back("no_new_privs");
    else
        r.missing.push_back("PR_SET_NO_NEW_PRIVS failed");
    if (!p.confine) {
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
    if (int n = restrict_system_calls(why))
        r.applied.push_back("seccomp allow-list (" + std::to_string(n) + " rules)");
    else
        r.missing.push_back("seccomp: " + why);
    return r;
}

}  // namespace ferry::sandbox
