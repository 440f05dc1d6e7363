#include "client/listing_format.hpp"

#include <cstdio>
#include <ctime>

namespace ferry::client {

std::string long_line(const proto::list_entry& e) {
    using kind = proto::file_info::kind;
    const auto& f = e.info;
    std::string mode(10, '-');
    mode[0] = f.type == kind::dir ? 'd' : f.type == kind::link ? 'l' : f.type == kind::other ? '?' : '-';
    const char* rwx = "rwx";
    for (int i = 0; i < 9; ++i)
        if (f.mode & (0400u >> i)) mode[1 + i] = rwx[i % 3];
    std::string when = "                ";
    if (e.has_mtime) {
        std::time_t t = static_cast<std::time_t>(f.mtime);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
        when = buf;
    }
    char size[32];
    std::snprintf(size, sizeof size, "%14llu", static_cast<unsigned long long>(f.size));
    std::string line = mode + " " + size + " " + when + " " + f.name;
    if (!e.link_target.empty()) line += " -> " + e.link_target;
    return line;
}

std::string human_bytes(double n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (n >= 1024 && u < 4) {
        n /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", n, units[u]);
    return buf;
}

std::string human_rate(std::uint64_t bytes, double seconds) {
    if (seconds <= 0) seconds = 1e-3;
    return human_bytes(static_cast<double>(bytes) / seconds) + "/s";
}

}  // namespace ferry::client
