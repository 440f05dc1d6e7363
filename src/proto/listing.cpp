#include "proto/listing.hpp"

#include <chrono>
#include <cstdio>

namespace ferry::proto {

namespace {

constexpr const char* month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct civil_time {
    int year, month, day, hour, minute, second;
};

// std::chrono calendar instead of gmtime_r: no time_t range limits, no locale, no global state.
civil_time to_civil(std::int64_t t) {
    using namespace std::chrono;
    const std::int64_t day_secs = 86400;
    std::int64_t days = t / day_secs, rem = t % day_secs;
    if (rem < 0) {
        rem += day_secs;
        --days;
    }
    year_month_day ymd{sys_days{std::chrono::days{days}}};
    return {int(ymd.year()), int(unsigned(ymd.month())), int(unsigned(ymd.day())), int(rem / 3600),
            int(rem / 60 % 60), int(rem % 60)};
}

bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// SECURITY: (reply/listing injection) a file name holding CR or LF would end the line early
// and let its owner forge listing entries, or whole replies for MLST on the control connection.
std::string safe_name(std::string_view name) {
    std::string r(name);
    for (char& c : r)
        if (c == '\r' || c == '\n' || c == '\0') c = '?';
    return r;
}

std::string mode_string(const file_info& f) {
    std::string s(10, '-');
    s[0] = f.type == file_info::kind::dir ? 'd' : f.type == file_info::kind::link ? 'l' : '-';
    const std::uint32_t m = f.mode;
    const char* rwx = "rwx";
    for (int i = 0; i < 9; ++i)
        if (m & (0400u >> i)) s[1 + i] = rwx[i % 3];
    // setuid/setgid/sticky share the x column: lower case when x is also set, as ls does.
    if (m & 04000) s[3] = (m & 0100) ? 's' : 'S';
    if (m & 02000) s[6] = (m & 0010) ? 's' : 'S';
    if (m & 01000) s[9] = (m & 0001) ? 't' : 'T';
    return s;
}

}  // namespace

std::string mlst_facts::select(std::string_view requested) {
    // RFC 3659 section 7.9: the request replaces the selection; an empty list selects no facts.
    type = size = modify = perm = unix_mode = false;
    while (!requested.empty()) {
        auto semi = requested.find(';');
        auto name = requested.substr(0, semi);
        requested = semi == std::string_view::npos ? std::string_view{} : requested.substr(semi + 1);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        if (ieq(name, "type")) type = true;
        else if (ieq(name, "size")) size = true;
        else if (ieq(name, "modify")) modify = true;
        else if (ieq(name, "perm")) perm = true;
        else if (ieq(name, "unix.mode")) unix_mode = true;
        // unknown facts are silently ignored, as the RFC asks
    }
    std::string r;
    if (type) r += "type;";
    if (size) r += "size;";
    if (modify) r += "modify;";
    if (perm) r += "perm;";
    if (unix_mode) r += "UNIX.mode;";
    return r;
}

std::string mlst_facts::feat_line() const {
    auto fact = [](const char* name, bool on) { return std::string(name) + (on ? "*;" : ";"); };
    return "MLST " + fact("type", type) + fact("size", size) + fact("modify", modify) +
           fact("perm", perm) + fact("UNIX.mode", unix_mode);
}

// perm fact (RFC 3659 section 7.5.5), derived from the two flags we have:
//   file: r when readable; a (APPE), d (DELE), f (RNFR), w (STOR) when writable.
//   dir:  e (CWD) and l (LIST/MLSD) when readable; c (STOR inside), d (RMD), f (RNFR),
//         m (MKD), p (delete contents) when writable.
// Letters are emitted in alphabetical order. Links and other kinds follow the file rules.
std::string format_mlsx(const file_info& f, const mlst_facts& facts) {
    std::string out;
    const bool dir = f.type == file_info::kind::dir;
    if (facts.type) {
        out += "type=";
        if (f.name == ".")
            out += "cdir";
        else if (f.name == "..")
            out += "pdir";
        else if (dir)
            out += "dir";
        else if (f.type == file_info::kind::link)
            out += "OS.unix=symlink";  // as ProFTPD does; RFC 3659 leaves OS types open
        else if (f.type == file_info::kind::other)
            out += "OS.unix=special";  // fifo, socket, device: not retrievable as a plain file
        else
            out += "file";
        out += ';';
    }
    if (facts.size && f.type == file_info::kind::file) out += "size=" + std::to_string(f.size) + ';';
    if (facts.modify) out += "modify=" + format_timeval(f.mtime) + ';';
    if (facts.perm) {
        std::string p;
        if (dir) {
            if (f.writable) p += "cd";
            if (f.readable) p += "e";
            if (f.writable) p += "f";
            if (f.readable) p += "l";
            if (f.writable) p += "mp";
        } else {
            if (f.writable) p += "adf";
            if (f.readable) p += "r";
            if (f.writable) p += "w";
        }
        out += "perm=" + p + ';';
    }
    if (facts.unix_mode) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(f.mode & 07777));
        out += "UNIX.mode=";
        out += buf;
        out += ';';
    }
    // The space before the name is always there, even with no facts (RFC 3659 section 7.2).
    out += ' ';
    out += safe_name(f.name);
    return out;
}

// Columns as vsftpd prints them: "%s %4u %-8s %-8s %8llu %s %s".
// Dates: "Mon DD HH:MM" when the mtime lies within six months before now or up to an hour
// after it (small clock skew), otherwise "Mon DD  YYYY" like ls -l. English, UTC.
std::string format_list_line(const file_info& f, std::int64_t now) {
    constexpr std::int64_t six_months = 15778476;  // half of a 365.2425-day year, as GNU ls
    constexpr std::int64_t future_slack = 3600;
    const civil_time c = to_civil(f.mtime);
    char date[32];
    if (f.mtime > now - six_months && f.mtime <= now + future_slack)
        std::snprintf(date, sizeof date, "%s %02d %02d:%02d", month_names[c.month - 1], c.day,
                      c.hour, c.minute);
    else
        std::snprintf(date, sizeof date, "%s %02d  %d", month_names[c.month - 1], c.day, c.year);

    std::string out = mode_string(f);
    char buf[64];
    std::snprintf(buf, sizeof buf, " %4u ", static_cast<unsigned>(f.nlink));
    out += buf;
    auto pad = [&](const std::string& s) {
        out += s;
        if (s.size() < 8) out.append(8 - s.size(), ' ');
        out += ' ';
    };
    pad(safe_name(f.owner));
    pad(safe_name(f.group));
    std::snprintf(buf, sizeof buf, "%8llu ", static_cast<unsigned long long>(f.size));
    out += buf;
    out += date;
    out += ' ';
    out += safe_name(f.name);
    return out;
}

std::string format_timeval(std::int64_t t) {
    const civil_time c = to_civil(t);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", c.year, c.month, c.day, c.hour,
                  c.minute, c.second);
    return buf;
}

bool parse_timeval(std::string_view s, std::int64_t& out) {
    auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
    if (s.size() < 14) return false;
    for (std::size_t i = 0; i < 14; ++i)
        if (!digit(s[i])) return false;
    if (s.size() > 14) {
        // optional ".fraction": at least one digit, ignored (we keep whole seconds)
        if (s[14] != '.' || s.size() == 15) return false;
        for (std::size_t i = 15; i < s.size(); ++i)
            if (!digit(s[i])) return false;
    }
    auto num = [&](std::size_t pos, std::size_t len) {
        int n = 0;
        for (std::size_t i = pos; i < pos + len; ++i) n = n * 10 + (s[i] - '0');
        return n;
    };
    using namespace std::chrono;
    const year_month_day ymd{year{num(0, 4)}, month{unsigned(num(4, 2))}, day{unsigned(num(6, 2))}};
    const int hh = num(8, 2), mm = num(10, 2), ss = num(12, 2);
    // RFC 3659 time-val allows second 60 (a leap second); it counts as the next minute's 00.
    if (!ymd.ok() || hh > 23 || mm > 59 || ss > 60) return false;
    const std::int64_t days = sys_days{ymd}.time_since_epoch().count();
    const std::int64_t t = days * 86400 + hh * 3600 + mm * 60 + ss;
    // 99991231235960 would be year 10000, which no 14-digit time-val can show (format_timeval
    // would print 15 digits): refuse it.
    constexpr std::int64_t last_timeval = 253402300799;  // 9999-12-31 23:59:59 UTC
    if (t > last_timeval) return false;
    out = t;
    return true;
}

}  // namespace ferry::proto
