// The sandbox's effects, seen from inside a confined process: each test forks a child, confines
// it, and has it try what a compromised session would. The child reports through its exit code
// which check failed (0: all held), so the kernel's answer is what is asserted.
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <system_error>
#include <gtest/gtest.h>
#include <thread>

#include "sandbox/fs_identity.hpp"
#include "sandbox/sandbox.hpp"

namespace fs = std::filesystem;
using namespace ferry;

namespace {

// Runs body in a child; returns its exit status (the number of the first check that failed).
int in_child(const std::function<int()>& body) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

bool denied(int rc, int err = EACCES) { return rc < 0 && errno == err; }

struct temp_dir {
    fs::path path;
    temp_dir() {
        char tmpl[] = "/tmp/ferry-sandbox-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() { fs::remove_all(path); }
};

}  // namespace

TEST(Landlock, HomesReadWriteOthersReadOnlyOrNothing) {
    temp_dir home, config;
    std::ofstream(config.path / "server.pem") << "key\n";
    std::ofstream(home.path / "old.txt") << "old\n";
    int rc = in_child([&] {
        std::string why;
        std::vector<std::string> unreachable;
        if (sandbox::restrict_file_system({home.path.string()}, {config.path.string()}, unreachable, why) < 1 ||
            !unreachable.empty())
            return 1;
        // Inside the home: create, rename, link, remove, make a folder.
        int fd = ::open((home.path / "new.txt").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0 || ::write(fd, "x", 1) != 1) return 2;
        ::close(fd);
        if (::rename((home.path / "new.txt").c_str(), (home.path / "moved.txt").c_str()) != 0) return 3;
        if (::link((home.path / "moved.txt").c_str(), (home.path / ".kept").c_str()) != 0) return 4;
        if (::mkdir((home.path / "sub").c_str(), 0755) != 0) return 5;
        if (::unlink((home.path / "old.txt").c_str()) != 0) return 6;
        // No special files, no symbolic links, even in the home.
        if (!denied(::mkfifo((home.path / "fifo").c_str(), 0600))) return 7;
        if (!denied(::symlink("/etc/passwd", (home.path / "link").c_str()))) return 8;
        // The config folder: read, never write.
        fd = ::open((config.path / "server.pem").c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return 9;
        ::close(fd);
        if (!denied(::open((config.path / "server.pem").c_str(), O_WRONLY | O_CLOEXEC))) return 10;
        if (!denied(::open((config.path / "planted").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600))) return 11;
        // Everything else: nothing (root's files too: Landlock does not care who we are).
        if (!denied(::open("/etc/passwd", O_RDONLY | O_CLOEXEC))) return 12;
        if (!denied(::open("/tmp/ferry-sandbox-escape", O_CREAT | O_WRONLY | O_CLOEXEC, 0600))) return 13;
        char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
        ::execv("/bin/true", argv);
        return errno == EACCES ? 0 : 14;
    });
    EXPECT_EQ(rc, 0);
    EXPECT_TRUE(fs::exists(home.path / "moved.txt"));
    EXPECT_FALSE(fs::exists(config.path / "planted"));
}

TEST(Seccomp, ThreadsAndSocketsYesProcessesProgramsAndTerminalsNo) {
    int rc = in_child([] {
        std::string why;
        if (sandbox::restrict_system_calls(why) < 50) return 1;
        // What serving needs keeps working: threads (clone3 reports ENOSYS, glibc falls back to
        // clone with CLONE_THREAD), files, internet sockets.
        bool ran = false;
        std::thread([&] { ran = true; }).join();
        if (!ran) return 2;
        int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return 3;
        ::close(fd);
        int s = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) return 4;
        int on = 1;
        if (::ioctl(s, FIONBIO, &on) != 0) return 5;
        ::close(s);
        // What an attacker would want does not.
        if (!denied(static_cast<int>(::fork()), EPERM)) return 6;
        char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
        if (!denied(::execv("/bin/true", argv), EPERM)) return 7;
        if (!denied(::socket(AF_PACKET, SOCK_RAW, 0), EPERM)) return 8;
        char c = 'x';
        if (!denied(::ioctl(0, TIOCSTI, &c), EPERM)) return 9;
        if (!denied(static_cast<int>(::syscall(SYS_ptrace, 0, 0, 0, 0)), EPERM)) return 10;
        if (!denied(::kill(::getppid(), 0), EPERM)) return 11;
        if (!denied(::setuid(0), EPERM)) return 12;
        if (!denied(::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), EPERM)) return 13;
        std::ifstream status("/proc/self/status");
        std::string line;
        bool nnp = false, filtered = false;
        while (std::getline(status, line)) {
            nnp |= line == "NoNewPrivs:\t1";
            filtered |= line == "Seccomp:\t2";
        }
        return nnp && filtered ? 0 : 14;
    });
    EXPECT_EQ(rc, 0);
}

TEST(Privileges, RootBecomesTheServiceUserWithNoWayBack) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
    passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    int rc = in_child([&] {
        sandbox::run_user u{"nobody", nobody->pw_uid, nobody->pw_gid, {nobody->pw_gid}};
        std::string why;
        if (!sandbox::switch_user(u, {}, why)) return 1;
        sandbox::drop_capabilities({}, why);
        if (::getuid() != u.uid || ::geteuid() != u.uid || ::getgid() != u.gid) return 2;
        if (::setuid(0) == 0 || ::setgid(0) == 0) return 3;
        if (::prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) return 4;
        // A root-only file is no longer readable.
        return denied(::open("/etc/shadow", O_RDONLY | O_CLOEXEC)) ? 0 : 5;
    });
    EXPECT_EQ(rc, 0);
}

TEST(Privileges, BindServiceIsTheOnlyCapabilityKept) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
    passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    int rc = in_child([&] {
        sandbox::run_user u{"nobody", nobody->pw_uid, nobody->pw_gid, {nobody->pw_gid}};
        std::string why;
        if (!sandbox::switch_user(u, {.bind_service = true}, why) || !sandbox::drop_capabilities({.bind_service = true}, why)) return 1;
        __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct d[2]{};
        if (::syscall(SYS_capget, &h, d) != 0) return 2;
        if (d[0].effective != (1u << CAP_NET_BIND_SERVICE) || d[1].effective != 0 || d[0].permitted != d[0].effective)
            return 3;
        // Port 20 (ACTIVEDATAPORT 20) can still be bound; nothing else root could do works.
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int on = 1;
        ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(20);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 4;
        ::close(s);
        return denied(::open("/etc/shadow", O_RDONLY | O_CLOEXEC)) ? 0 : 5;
    });
    EXPECT_EQ(rc, 0);
}

TEST(RunUser, RootWithoutRunasNeedsAFerryUserOrAnExplicitRoot) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
    std::string why;
    EXPECT_FALSE(sandbox::resolve_run_user("no-such-user-ferry", why));
    EXPECT_EQ(why, "RUNAS no-such-user-ferry: no such user");
    auto root = sandbox::resolve_run_user("root", why);
    ASSERT_TRUE(root);
    EXPECT_EQ(root->uid, 0u);
    why.clear();
    auto dflt = sandbox::resolve_run_user("", why);
    if (::getpwnam("ferry"))
        EXPECT_TRUE(dflt && dflt->name == "ferry");
    else
        EXPECT_TRUE(!dflt && why.find("RUNAS root") != std::string::npos) << why;
}

// SYSTEMUSERS ON: the service user keeps CAP_SETUID + CAP_SETGID, narrowed by seccomp to taking
// a file-system identity for one disk job; a thread acting as a user gets exactly that user's
// file rights, the other threads keep their own, and root's identity cannot be taken.
TEST(FsIdentity, ThreadTakesAUsersFileRightsAndNothingMore) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
    passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    temp_dir dir;
    fs::permissions(dir.path, fs::perms::all);  // 0777: anyone may create here
    const uid_t user = 4242;                    // an ordinary uid, no account needed
    const gid_t group = 4343, extra = 4444;
    std::ofstream(dir.path / "users.txt") << "the user's\n";
    ASSERT_EQ(::chown((dir.path / "users.txt").c_str(), user, group), 0);
    ::chmod((dir.path / "users.txt").c_str(), 0600);
    std::ofstream(dir.path / "extra.txt") << "the extra group's\n";
    ASSERT_EQ(::chown((dir.path / "extra.txt").c_str(), 0, extra), 0);
    ::chmod((dir.path / "extra.txt").c_str(), 0640);
    int rc = in_child([&] {
        sandbox::run_user u{"nobody", nobody->pw_uid, nobody->pw_gid, {nobody->pw_gid}};
        std::string why;
        const sandbox::kept_capabilities keep{.identity_switch = true};
        if (!sandbox::switch_user(u, keep, why) || !sandbox::drop_capabilities(keep, why)) return 1;
        if (!sandbox::holds_identity_switch() || sandbox::restrict_system_calls(why, true) < 50) return 2;
        const std::string users = dir.path / "users.txt", extras = dir.path / "extra.txt";
        if (!denied(::open(users.c_str(), O_RDONLY | O_CLOEXEC))) return 3;  // nobody may not
        // A thread that exists already (as the pools' threads do; a new one would inherit the
        // creating thread's identity) keeps its own while this one acts as the user.
        std::atomic<int> stage{0};
        int other_thread_open = 0;
        std::thread other([&] {
            while (stage.load() != 1) std::this_thread::yield();
            other_thread_open = ::open(users.c_str(), O_RDONLY | O_CLOEXEC);
            stage.store(2);
        });
        {
            sandbox::acting_as as(sandbox::fs_identity{user, group, {extra}});
            int fd = ::open(users.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) return 4;
            ::close(fd);
            if ((fd = ::open(extras.c_str(), O_RDONLY | O_CLOEXEC)) < 0) return 5;  // supplementary group
            ::close(fd);
            // Created files belong to the user.
            const std::string made = dir.path / "made.txt";
            if ((fd = ::open(made.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0) return 6;
            struct stat st{};
            ::fstat(fd, &st);
            ::close(fd);
            if (st.st_uid != user || st.st_gid != group) return 7;
            stage.store(1);
            other.join();
            if (other_thread_open >= 0) return 8;
        }
        if (!denied(::open(users.c_str(), O_RDONLY | O_CLOEXEC))) return 9;  // back to nobody
        // Root's identity is out of reach: the filter refuses fsuid/fsgid 0 and every setuid.
        try {
            sandbox::acting_as root(sandbox::fs_identity{0, 0, {}});
            return 10;
        } catch (const std::system_error&) {
        }
        if (::setfsuid(0) == 0 && ::setfsuid(static_cast<uid_t>(-1)) == 0) return 11;
        if (::setuid(0) == 0 || ::setresuid(0, 0, 0) == 0 || ::setgid(0) == 0) return 12;
        // With CAP_SETUID a local socket could carry a forged uid: there are none.
        if (!denied(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), EPERM)) return 13;
        return 0;
    });
    EXPECT_EQ(rc, 0);
}
