#pragma once
// System users, checked by PAM (SYSTEMUSERS ON). PAM needs root (pam_unix reads /etc/shadow),
// and ferryd serves sessions without it, so the check runs in a small broker process forked
// while ferryd is still root, before the sandbox is applied. The broker only answers "is this
// password right for this user, and who is the user": it grants nothing. What a system user may
// touch is decided by the kernel, from the uid, gid and groups it returns (sandbox/fs_identity).
#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::auth {

struct system_account {
    std::string name;  // as PAM has it (a module may map the name given)
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups, as for a login (initgroups)
    std::string home;
};

class system_users {
public:
    system_users() = default;
    system_users(const system_users&) = delete;
    system_users& operator=(const system_users&) = delete;
    ~system_users();

    // Forks the broker for PAM service `service`; accounts with a uid below min_uid (and root,
    // always) are refused by it. Call with no other thread running (fork). False with error set
    // when the broker cannot start.
    bool start(const std::string& service, uid_t min_uid, std::string& error);
    bool started() const { return fd_ >= 0; }

    // Asks PAM (authentication and account checks). Thread-safe, one question at a time; blocks
    // for as long as PAM takes (pam_unix: a crypt, milliseconds): call from a worker pool.
    // nullopt when refused, with the reason in why (for the log, never for the client).
    std::optional<system_account> authenticate(std::string_view name, std::string_view password,
                                               std::string_view remote_host, std::string& why) const;

private:
    int fd_ = -1;
    pid_t pid_ = -1;
    mutable std::mutex mutex_;
    mutable unsigned long next_id_ = 1;
};

// The broker's reply format, parsed by authenticate() (exposed for tests).
std::string encode_account(unsigned long id, const system_account& a);
std::optional<system_account> decode_account(std::string_view reply, unsigned long id, std::string& why);

}  // namespace ferry::auth
