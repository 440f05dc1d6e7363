#include "auth/system_users.hpp"

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace ferry::auth {
namespace {

// Requests and replies are one datagram each (SOCK_SEQPACKET): "id\0user\0password\0host"
// and encode_account()'s lines.
constexpr std::size_t max_message = 8192;
constexpr std::size_t max_name = 256, max_password = 1024;
// PAM modules that ask a network service (LDAP, Kerberos) may be slow; a broker that has not
// answered by then counts as a refusal, and its late answer is recognised by its id and dropped.
constexpr int answer_timeout_ms = 30'000;

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// ---- the broker (root, single-threaded, forked before anything else runs) ----

struct conversation_data {
    const std::string* user;
    const std::string* password;
};

// Answers PAM's prompts: the password for a hidden prompt, the user name for a visible one.
int converse(int n, const pam_message** msgs, pam_response** out, void* data) {
    if (n <= 0 || n > PAM_MAX_NUM_MSG) return PAM_CONV_ERR;
    auto* d = static_cast<conversation_data*>(data);
    auto* replies = static_cast<pam_response*>(std::calloc(static_cast<std::size_t>(n), sizeof(pam_response)));
    if (!replies) return PAM_BUF_ERR;
    for (int i = 0; i < n; ++i) {
        const char* answer = nullptr;
        switch (msgs[i]->msg_style) {
            case PAM_PROMPT_ECHO_OFF: answer = d->password->c_str(); break;
            case PAM_PROMPT_ECHO_ON: answer = d->user->c_str(); break;
            default: break;  // PAM_ERROR_MSG, PAM_TEXT_INFO: nobody to show them to
        }
        if (answer && !(replies[i].resp = ::strdup(answer))) {
            for (int j = 0; j < i; ++j) std::free(replies[j].resp);
            std::free(replies);
            return PAM_BUF_ERR;
        }
    }
    *out = replies;
    return PAM_SUCCESS;
}

// ferryd delays failed logins itself (on a timer, per address); pam_unix's own delay would hold
// the broker, and with it every other system user's login.
void no_delay(int, unsigned, void*) {}

std::string refuse(unsigned long id, const std::string& why) { return std::to_string(id) + "\nNO\n" + why + "\n"; }

std::string check(unsigned long id, const std::string& service, uid_t min_uid, std::string user,
                  const std::string& password, const std::string& host) {
    conversation_data data{&user, &password};
    pam_conv conv{converse, &data};
    pam_handle_t* h = nullptr;
    int rc = ::pam_start(service.c_str(), user.c_str(), &conv, &h);
    if (rc != PAM_SUCCESS) return refuse(id, "pam_start failed");
    ::pam_set_item(h, PAM_RHOST, host.c_str());
    ::pam_set_item(h, PAM_FAIL_DELAY, reinterpret_cast<const void*>(&no_delay));
    rc = ::pam_authenticate(h, PAM_DISALLOW_NULL_AUTHTOK);
    if (rc == PAM_SUCCESS) rc = ::pam_acct_mgmt(h, PAM_DISALLOW_NULL_AUTHTOK);
    std::string why = rc == PAM_SUCCESS ? "" : ::pam_strerror(h, rc);
    const void* mapped = nullptr;
    if (rc == PAM_SUCCESS && ::pam_get_item(h, PAM_USER, &mapped) == PAM_SUCCESS && mapped)
        user = static_cast<const char*>(mapped);
    ::pam_end(h, rc);
    if (rc != PAM_SUCCESS) return refuse(id, "PAM: " + why);
    std::vector<char> buf(16384);
    passwd pw{}, *found = nullptr;
    if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
        return refuse(id, "PAM accepted " + user + ", but the user database does not know it");
    system_account a{user, pw.pw_uid, pw.pw_gid, {}, pw.pw_dir ? pw.pw_dir : ""};
    // SECURITY: root and service accounts never log in over FTP, whatever PAM says.
    if (a.uid == 0 || a.uid < min_uid)
        return refuse(id, "uid " + std::to_string(a.uid) + " is below SYSTEMMINUID " + std::to_string(min_uid));
    int n = 64;
    a.groups.resize(static_cast<std::size_t>(n));
    while (::getgrouplist(user.c_str(), a.gid, a.groups.data(), &n) < 0) a.groups.resize(static_cast<std::size_t>(n));
    a.groups.resize(static_cast<std::size_t>(n));
    return encode_account(id, a);
}

[[noreturn]] void serve(int fd, const std::string& service, uid_t min_uid) {
    // Nothing of the server's: its listeners and files stay out of the privileged process.
    if (fd != 3) {
        ::dup2(fd, 3);
        fd = 3;
    }
    ::syscall(SYS_close_range, 4u, ~0u, 0u);
    ::prctl(PR_SET_NAME, "ferryd-pam", 0, 0, 0);
    std::vector<char> buf(max_message);
    for (;;) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ::_exit(0);  // ferryd is gone
        std::string_view msg(buf.data(), static_cast<std::size_t>(n));
        std::string_view parts[4];
        std::size_t count = 0;
        while (count < 4) {
            auto z = msg.find('\0');
            parts[count++] = msg.substr(0, z);
            if (z == std::string_view::npos) break;
            msg.remove_prefix(z + 1);
        }
        unsigned long id = 0;
        std::string reply;
        if (count != 4 || !parse_number(parts[0], id))
            reply = refuse(0, "malformed request");
        else if (parts[1].empty() || parts[1].size() > max_name || parts[2].size() > max_password)
            reply = refuse(id, "user name or password too long");
        else
            reply = check(id, service, min_uid, std::string(parts[1]), std::string(parts[2]), std::string(parts[3]));
        ::explicit_bzero(buf.data(), buf.size());
        ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
}

}  // namespace

std::string encode_account(unsigned long id, const system_account& a) {
    std::string out = std::to_string(id) + "\nOK\n" + a.name + "\n" + std::to_string(a.uid) + "\n" +
                      std::to_string(a.gid) + "\n" + a.home + "\n";
    for (std::size_t i = 0; i < a.groups.size(); ++i) out += (i ? " " : "") + std::to_string(a.groups[i]);
    return out + "\n";
}

std::optional<system_account> decode_account(std::string_view reply, unsigned long id, std::string& why) {
    std::vector<std::string_view> lines;
    while (!reply.empty()) {
        auto nl = reply.find('\n');
        if (nl == std::string_view::npos) return why = "malformed answer from the PAM broker", std::nullopt;
        lines.push_back(reply.substr(0, nl));
        reply.remove_prefix(nl + 1);
    }
    unsigned long got = 0;
    if (lines.size() < 2 || !parse_number(lines[0], got) || got != id)
        return why = "malformed answer from the PAM broker", std::nullopt;
    if (lines[1] == "NO" && lines.size() == 3) return why = std::string(lines[2]), std::nullopt;
    system_account a;
    if (lines[1] != "OK" || lines.size() != 7 || lines[2].empty() || !parse_number(lines[3], a.uid) ||
        !parse_number(lines[4], a.gid) || lines[5].empty() || lines[5][0] != '/')
        return why = "malformed answer from the PAM broker", std::nullopt;
    a.name = lines[2];
    a.home = lines[5];
    for (std::string_view g = lines[6]; !g.empty();) {
        auto sp = g.find(' ');
        gid_t v = 0;
        if (!parse_number(g.substr(0, sp), v)) return why = "malformed answer from the PAM broker", std::nullopt;
        a.groups.push_back(v);
        g = sp == std::string_view::npos ? std::string_view{} : g.substr(sp + 1);
    }
    return a;
}

bool system_users::start(const std::string& service, uid_t min_uid, std::string& error) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return error = std::string("socketpair: ") + std::strerror(errno), false;
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        ::close(sv[0]);
        ::close(sv[1]);
        return false;
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (::getppid() != parent) ::_exit(0);
        serve(sv[1], service, min_uid);
    }
    ::close(sv[1]);
    fd_ = sv[0];
    pid_ = pid;
    return true;
}

system_users::~system_users() {
    if (fd_ < 0) return;
    ::close(fd_);  // the broker sees EOF and exits
    int status;
    ::waitpid(pid_, &status, 0);
}

std::optional<system_account> system_users::authenticate(std::string_view name, std::string_view password,
                                                         std::string_view remote_host, std::string& why) const {
    if (fd_ < 0) return why = "system users are off", std::nullopt;
    if (name.empty() || name.size() > max_name || password.size() > max_password ||
        name.find('\0') != std::string_view::npos || password.find('\0') != std::string_view::npos)
        return why = "user name or password not acceptable to PAM", std::nullopt;
    std::lock_guard lock(mutex_);
    const unsigned long id = next_id_++;
    std::string request = std::to_string(id);
    request.push_back('\0');
    request.append(name).push_back('\0');
    request.append(password).push_back('\0');
    request.append(remote_host.substr(0, 255));
    ssize_t sent = ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
    ::explicit_bzero(request.data(), request.size());
    if (sent != static_cast<ssize_t>(request.size())) return why = "the PAM broker is gone", std::nullopt;
    std::vector<char> buf(max_message);
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, answer_timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return why = "PAM did not answer in time", std::nullopt;
        ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n <= 0) return why = "the PAM broker is gone", std::nullopt;
        std::string_view reply(buf.data(), static_cast<std::size_t>(n));
        unsigned long got = 0;
        auto nl = reply.find('\n');
        if (nl != std::string_view::npos && parse_number(reply.substr(0, nl), got) && got < id) continue;  // late
        return decode_account(reply, id, why);
    }
}

}  // namespace ferry::auth
