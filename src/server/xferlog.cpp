#include "server/xferlog.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

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

}  // namespace ferry::server
