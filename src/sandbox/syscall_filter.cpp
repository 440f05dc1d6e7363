// seccomp: an allow-list of the system calls a serving ferryd makes. Anything else fails with
// EPERM (not a kill: a call missed here breaks one command, not every session), so a
// compromised session cannot execute programs, fork, trace, mount, load modules or keys, or
// reach the kernel's less-used interfaces.
#include <linux/sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "sandbox/sandbox.hpp"

namespace ferry::sandbox {
namespace {

// What Asio, OpenSSL, glibc (threads, malloc, getaddrinfo) and the vfs call while serving.
// Names unknown to this architecture are skipped.
const char* const allowed[] = {
    // descriptors and files
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
    "lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "openat", "openat2", "open",
    "newfstatat", "fstat", "statx", "stat", "lstat", "access", "faccessat", "faccessat2", "readlink",
    "readlinkat", "getdents64", "mkdirat", "mkdir", "unlinkat", "unlink", "rmdir", "renameat", "renameat2",
    "rename", "linkat", "link", "fchmod", "fchmodat", "fchmodat2", "utimensat", "fsync", "fdatasync",
    "ftruncate", "fallocate", "fadvise64", "sendfile", "splice", "copy_file_range", "statfs", "fstatfs",
    "umask", "getcwd", "chdir", "fchdir", "flock",
    // network (socket() is narrowed below)
    "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername", "setsockopt",
    "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
    // events and time
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
    "timerfd_create", "timerfd_settime", "timerfd_gettime", "pipe2", "poll", "ppoll", "select",
    "pselect6", "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
    // memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "membarrier",
    // threads (clone is narrowed below)
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
    "sched_yield", "sched_getaffinity", "getpriority", "setpriority", "gettid", "getpid", "getppid",
    "tgkill", "tkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
    "restart_syscall", "exit", "exit_group",
    // identity and limits (reading only)
    "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid", "uname", "sysinfo",
    "getrandom", "getrlimit", "getrusage",
};

// A 64-bit argument equal to value. Written out: libseccomp's SCMP_A<n>(op, value) leaves the
// second datum to C's implicit zero, which C++ compilers flag (-Wmissing-field-initializers).
scmp_arg_cmp arg_is(unsigned arg, scmp_datum_t value) { return scmp_arg_cmp{arg, SCMP_CMP_EQ, value, 0}; }

// An int argument: the upper half of its register is not defined.
scmp_arg_cmp int_arg_is(unsigned arg, long value) {
    return SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, static_cast<scmp_datum_t>(value) & 0xffffffffu);
}

struct filter_deleter {
    void operator()(void* f) const { seccomp_release(f); }
};

}  // namespace

int restrict_system_calls(std::string& why, bool identity_switch) {
    std::unique_ptr<void, filter_deleter> f(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
    if (!f) return why = "seccomp_init failed", 0;
    // Every thread of the process, and NO_NEW_PRIVS (libseccomp sets it before loading).
    seccomp_attr_set(f.get(), SCMP_FLTATR_CTL_TSYNC, 1);
    int n = 0;
    auto allow = [&](int nr, unsigned count, const scmp_arg_cmp* args) {
        if (seccomp_rule_add_array(f.get(), SCMP_ACT_ALLOW, nr, count, args) == 0) ++n;
    };
    for (const char* name : allowed) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr != __NR_SCMP_ERROR) allow(nr, 0, nullptr);
    }
    // Threads, never processes: clone only with CLONE_THREAD; clone3 passes its flags in memory
    // a filter cannot read, so it reports ENOSYS and glibc falls back to clone.
    scmp_arg_cmp thread_only = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    allow(SCMP_SYS(clone), 1, &thread_only);
    seccomp_rule_add(f.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    // Internet sockets, the resolver's netlink and local sockets; no raw packet access.
    for (int domain : {AF_INET, AF_INET6, AF_UNIX, AF_NETLINK}) {
        if (identity_switch && domain == AF_UNIX) continue;  // see the header
        scmp_arg_cmp d = int_arg_is(0, domain);
        allow(SCMP_SYS(socket), 1, &d);
    }
    // ioctl: non-blocking mode, bytes readable/unsent, close-on-exec, isatty; never TIOCSTI.
    for (unsigned long req : {FIONBIO, FIONREAD, TIOCOUTQ, FIOCLEX, FIONCLEX, TCGETS}) {
        scmp_arg_cmp r = arg_is(1, static_cast<scmp_datum_t>(req));
        allow(SCMP_SYS(ioctl), 1, &r);
    }
    // prctl: thread names only.
    for (int op : {PR_SET_NAME, PR_GET_NAME}) {
        scmp_arg_cmp o = int_arg_is(0, op);
        allow(SCMP_SYS(prctl), 1, &o);
    }
    // Signals to ourselves only (abort, raise).
    scmp_arg_cmp self = int_arg_is(0, ::getpid());
    allow(SCMP_SYS(kill), 1, &self);
    // prlimit64 as getrlimit: reading, never setting (new limit pointer NULL).
    scmp_arg_cmp read_only = arg_is(2, 0);
    allow(SCMP_SYS(prlimit64), 1, &read_only);
    if (identity_switch) {
        // A thread's file-system identity, for one disk job (fs_identity.cpp), never root's
        // unless ferryd runs as root already (RUNAS root). The ids are 32 bits and the kernel
        // ignores the upper half of the register, so "not 0" is written as "one of the lower 32
        // bits set", a rule per bit (a filter has no masked not-equal).
        allow(SCMP_SYS(setgroups), 0, nullptr);
        for (int nr : {SCMP_SYS(setfsuid), SCMP_SYS(setfsgid)}) {
            if (::geteuid() == 0) {
                allow(nr, 0, nullptr);
                continue;
            }
            for (unsigned bit = 0; bit < 32; ++bit) {
                scmp_arg_cmp set = SCMP_CMP(0, SCMP_CMP_MASKED_EQ, 1u << bit, 1u << bit);
                allow(nr, 1, &set);
            }
        }
    }
    if (int rc = seccomp_load(f.get()); rc != 0) return why = std::string("seccomp_load: ") + std::strerror(-rc), 0;
    return n;
}

}  // namespace ferry::sandbox
