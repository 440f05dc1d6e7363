#include "server/line_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry::server {

line_log::~line_log() {
    if (owned_ && fd_ >= 0) ::close(fd_);
}

bool line_log::open(const std::string& path, std::string_view what, std::string& error) {
    int fd = -1;
    bool owned = false;
    if (path == "-") {
        fd = STDOUT_FILENO;
    } else if (!path.empty()) {
        fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            error = path + ": cannot open the " + std::string(what) + ": " + std::strerror(errno);
            return false;
        }
        owned = true;
    }
    std::lock_guard lock(mutex_);
    if (owned_ && fd_ >= 0) ::close(fd_);
    fd_ = fd;
    owned_ = owned;
    return true;
}

bool line_log::enabled() const {
    std::lock_guard lock(mutex_);
    return fd_ >= 0;
}

void line_log::write(std::string_view text) {
    std::string line;
    line.reserve(text.size() + 1);
    line.append(text).push_back('\n');
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    // One write(2) per line (O_APPEND): lines of concurrent sessions never interleave. A full
    // disk loses the line, not the transfer.
    std::size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<std::size_t>(n);
    }
}

}  // namespace ferry::server
