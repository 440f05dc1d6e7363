#include "server/xferlog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ferry::server {

std::string format_xferlog_line(const xferlog_entry& e) {
    // ctime(3)'s form, "DDD MMM dd hh:mm:ss YYYY" with the day padded by a space, in English
    // whatever the locale (analysers parse these names).
    static const char* const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto& t = e.when;
    char when[64];
    std::snprintf(when, sizeof when, "%s %s %2d %02d:%02d:%02d %d", days[(t.tm_wday % 7 + 7) % 7],
                  months[(t.tm_mon % 12 + 12) % 12], t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_year + 1900);
    const long long secs = std::max(1LL, std::llround(e.seconds));
    // SECURITY: log forging. The format has no quoting: a space would shift every later field
    // and a newline would start a made-up line, so both (and every control character) become '_'.
    auto field = [](const std::string& s) {
        std::string out = s.empty() ? std::string("-") : s;
        for (char& c : out)
            if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) c = '_';
        return out;
    };
    return std::string(when) + " " + std::to_string(secs) + " " + field(e.remote_host) + " " + std::to_string(e.bytes) +
           " " + field(e.filename) + " " + (e.ascii ? "a" : "b") + " _ " + (e.incoming ? "i" : "o") + " r " +
           field(e.user) + " ftp 0 * " + (e.complete ? "c" : "i");
}

xferlog_writer::~xferlog_writer() {
    if (owned_ && fd_ >= 0) ::close(fd_);
}

bool xferlog_writer::open(const std::string& path, std::string& error) {
    int fd = -1;
    bool owned = false;
    if (path == "-") {
        fd = STDOUT_FILENO;
    } else if (!path.empty()) {
        fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            error = path + ": cannot open the transfer log: " + std::strerror(errno);
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

bool xferlog_writer::enabled() const {
    std::lock_guard lock(mutex_);
    return fd_ >= 0;
}

void xferlog_writer::write(const xferlog_entry& e) {
    const std::string line = format_xferlog_line(e) + "\n";
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    // One write(2) per line (O_APPEND): lines of concurrent transfers never interleave. A full
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
