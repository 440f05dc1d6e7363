// Landlock: the file system a compromised session can reach is the served homes (read-write,
// no execution, no special files) and the few files ferryd reads after start (read-only).
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "sandbox/sandbox.hpp"
#include "vfs/unique_fd.hpp"

namespace ferry::sandbox {
namespace {

// The kernel ABI (include/uapi/linux/landlock.h), spelled out: Debian 12's headers stop at ABI 2.
struct ruleset_attr {
    std::uint64_t handled_access_fs;
    std::uint64_t handled_access_net;  // ABI 4
    std::uint64_t scoped;              // ABI 6
};
struct path_beneath_attr {
    std::uint64_t allowed_access;
    std::int32_t parent_fd;
} __attribute__((packed));

constexpr long sys_create_ruleset = 444, sys_add_rule = 445, sys_restrict_self = 446;
constexpr std::uint32_t create_ruleset_version = 1u << 0;
constexpr int rule_path_beneath = 1;

enum : std::uint64_t {
    fs_execute = 1ull << 0, fs_write_file = 1ull << 1, fs_read_file = 1ull << 2, fs_read_dir = 1ull << 3,
    fs_remove_dir = 1ull << 4, fs_remove_file = 1ull << 5, fs_make_char = 1ull << 6, fs_make_dir = 1ull << 7,
    fs_make_reg = 1ull << 8, fs_make_sock = 1ull << 9, fs_make_fifo = 1ull << 10, fs_make_block = 1ull << 11,
    fs_make_sym = 1ull << 12, fs_refer = 1ull << 13 /* ABI 2 */, fs_truncate = 1ull << 14 /* ABI 3 */,
    fs_ioctl_dev = 1ull << 15 /* ABI 5 */,
};
constexpr std::uint64_t scope_abstract_unix_socket = 1ull << 0, scope_signal = 1ull << 1;  // ABI 6

std::uint64_t handled_for(int abi) {
    std::uint64_t all = (fs_make_sym << 1) - 1;  // ABI 1: bits 0..12
    if (abi >= 2) all |= fs_refer;
    if (abi >= 3) all |= fs_truncate;
    if (abi >= 5) all |= fs_ioctl_dev;
    return all;
}

}  // namespace

int restrict_file_system(const std::vector<std::string>& read_write, const std::vector<std::string>& read_only,
                         std::vector<std::string>& unreachable, std::string& why) {
    const long abi = ::syscall(sys_create_ruleset, nullptr, 0, create_ruleset_version);
    if (abi < 1) {
        why = std::string("Landlock is not available in this kernel (") + std::strerror(errno) + ")";
        return 0;
    }
    const std::uint64_t handled = handled_for(static_cast<int>(abi));
    ruleset_attr attr{handled, 0, abi >= 6 ? (scope_abstract_unix_socket | scope_signal) : 0};
    // Older kernels take the prefix they know (the fields after it are zero).
    const std::size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 16 : 8;
    vfs::unique_fd ruleset(static_cast<int>(::syscall(sys_create_ruleset, &attr, size, 0)));
    if (!ruleset.valid()) return why = std::string("landlock_create_ruleset: ") + std::strerror(errno), 0;

    // Homes: everything a client may do, and REFER for the renames and links uploads make inside
    // them; never execute, and no devices, FIFOs, sockets or symbolic links.
    const std::uint64_t home_rights = handled & (fs_read_file | fs_write_file | fs_read_dir | fs_remove_dir |
                                                 fs_remove_file | fs_make_dir | fs_make_reg | fs_refer | fs_truncate);
    auto add = [&](const std::string& path, bool writable) -> bool {
        vfs::unique_fd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
        if (!fd.valid() && errno == EACCES) {
            // The file permissions already keep this user out: a rule would grant nothing.
            unreachable.push_back(path);
            return true;
        }
        if (!fd.valid()) return why = path + ": " + std::strerror(errno), false;
        struct stat st{};
        if (::fstat(fd.get(), &st) != 0) return why = path + ": " + std::strerror(errno), false;
        std::uint64_t rights = writable ? home_rights : (fs_read_file | fs_read_dir);
        if (!S_ISDIR(st.st_mode)) rights &= fs_read_file | fs_write_file | fs_truncate;  // file rules: file rights
        path_beneath_attr rule{rights & handled, fd.get()};
        if (::syscall(sys_add_rule, ruleset.get(), rule_path_beneath, &rule, 0) != 0)
            return why = "landlock_add_rule " + path + ": " + std::strerror(errno), false;
        return true;
    };
    for (const auto& p : read_write)
        if (!add(p, true)) return 0;
    for (const auto& p : read_only)
        if (!add(p, false)) return 0;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::syscall(sys_restrict_self, ruleset.get(), 0) != 0)
        return why = std::string("landlock_restrict_self: ") + std::strerror(errno), 0;
    return static_cast<int>(abi);
}

}  // namespace ferry::sandbox
