#pragma once
// ferryd's process model (vsftpd's "parse hostile input unprivileged", the Linux way): once the
// listeners are bound, the process that serves sessions gives up root for the RUNAS user, keeps
// no capability but CAP_NET_BIND_SERVICE (and that only for ACTIVEDATAPORT 20) and, for system
// users only (SYSTEMUSERS ON), CAP_SETUID + CAP_SETGID narrowed by seccomp to file-system
// identities (fs_identity.hpp), sets
// NO_NEW_PRIVS, confines the file system with Landlock and the kernel interface with a seccomp
// allow-list. Each step is applied before any other thread exists: Landlock and capabilities
// are per thread and are inherited only by threads started afterwards.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace ferry::sandbox {

struct run_user {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups, as for a login (initgroups)
};

// The user named by RUNAS; with none named, "ferry" if that user exists. Refuses (nullopt with
// why) when sessions would run as root without "RUNAS root" written, or the user is unknown.
// Started unprivileged with no RUNAS: the current user (apply() reports a RUNAS it cannot honour).
std::optional<run_user> resolve_run_user(const std::string& runas, std::string& why);

// Capabilities that survive the switch to the RUNAS user.
struct kept_capabilities {
    bool bind_service = false;     // CAP_NET_BIND_SERVICE (ACTIVEDATAPORT 20)
    bool identity_switch = false;  // CAP_SETUID + CAP_SETGID, for fs_identity (SYSTEMUSERS ON)
};

struct plan {
    std::optional<run_user> user;           // switch to it (when started as root)
    kept_capabilities keep;
    bool confine = true;                    // SANDBOX ON: Landlock and seccomp
    std::vector<std::string> read_write;    // folders (the served homes)
    std::vector<std::string> read_only;     // files and folders read after start
};

struct report {
    std::vector<std::string> applied;  // "uid ferry(998)", "seccomp allow-list (…)", …
    std::vector<std::string> missing;  // what could not be applied, and why
    bool fatal = false;                // the user switch failed: do not serve
};

// Applies the plan to the calling process. Call with no other thread running.
report apply(const plan& p);

// The parts, for tests and for apply().
bool switch_user(const run_user& u, kept_capabilities keep, std::string& why);
bool drop_capabilities(kept_capabilities keep, std::string& why);
bool holds_bind_service();
bool holds_identity_switch();
// Returns the Landlock ABI version applied (0: none, with why). Paths the current user cannot
// reach (EACCES) get no rule and are listed in unreachable.
int restrict_file_system(const std::vector<std::string>& read_write, const std::vector<std::string>& read_only,
                         std::vector<std::string>& unreachable, std::string& why);
// Returns the number of system calls allowed (0: none applied, with why). identity_switch: the
// per-thread file-system identity calls are allowed too, never to uid or gid 0 unless the
// process runs as root already, and local (AF_UNIX) sockets are refused: with CAP_SETUID a
// sender could claim any uid in SCM_CREDENTIALS to a local service.
int restrict_system_calls(std::string& why, bool identity_switch = false);

}  // namespace ferry::sandbox
