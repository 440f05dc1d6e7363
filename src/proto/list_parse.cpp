#include "proto/list_parse.hpp"

#include <chrono>

namespace ferry::proto {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_digit(c)) return false;
    return true;
}

bool to_u64(std::string_view s, std::uint64_t& out) {
    if (!all_digits(s) || s.size() > 19) return false;
    out = 0;
    for (char c : s) out = out * 10 + static_cast<std::uint64_t>(c - '0');
    return true;
}

int to_int(std::string_view s) {
    int v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return v;
}

std::int64_t to_epoch(int y, int mo, int d, int h, int mi) {
    using namespace std::chrono;
    auto days = sys_days{year{y} / month{static_cast<unsigned>(mo)} / day{static_cast<unsigned>(d)}};
    return static_cast<std::int64_t>(days.time_since_epoch().count()) * 86400 + h * 3600 + mi * 60;
}

int year_of(std::int64_t t) {
    using namespace std::chrono;
    std::int64_t days = t / 86400 - (t % 86400 < 0 ? 1 : 0);
    year_month_day ymd{sys_days{std::chrono::days{days}}};
    return int(ymd.year());
}

int month_number(std::string_view s) {
    static constexpr std::string_view names[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                   "jul", "aug", "sep", "oct", "nov", "dec"};
    if (s.size() < 3) return 0;
    for (int i = 0; i < 12; ++i)
        if (ieq(s.substr(0, 3), names[i]) && (s.size() == 3 || s.size() == 4)) return i + 1;
    return 0;
}

struct token {
    std::string_view text;
    std::size_t begin, end;  // offsets in the line
};

std::vector<token> split(std::string_view line, std::size_t max_tokens) {
    std::vector<token> out;
    std::size_t i = 0;
    while (i < line.size() && out.size() < max_tokens) {
        while (i < line.size() && is_space(line[i])) ++i;
        if (i >= line.size()) break;
        std::size_t b = i;
        while (i < line.size() && !is_space(line[i])) ++i;
        out.push_back({line.substr(b, i - b), b, i});
    }
    return out;
}

std::uint32_t parse_perm_bits(std::string_view p) {
    // p is the 9 characters after the type letter.
    std::uint32_t m = 0;
    for (int i = 0; i < 9; ++i) {
        char c = p[i];
        if (c != '-' && c != 'S' && c != 'T') m |= 0400u >> i;
    }
    if (p[2] == 's' || p[2] == 'S') m |= 04000;
    if (p[5] == 's' || p[5] == 'S') m |= 02000;
    if (p[8] == 't' || p[8] == 'T') m |= 01000;
    return m;
}

bool is_unix_perms(std::string_view t) {
    if (t.size() < 10) return false;
    if (std::string_view("-dlbcps").find(t[0]) == std::string_view::npos) return false;
    for (int i = 1; i < 10; ++i)
        if (std::string_view("-rwxsStTl").find(t[i]) == std::string_view::npos) return false;
    // ACL / extended attribute markers: "+", "@", "."
    return t.size() == 10 || (t.size() == 11 && std::string_view("+@.").find(t[10]) != std::string_view::npos);
}

// "HH:MM" -> minutes, or -1
int hhmm(std::string_view s) {
    if (s.size() < 4 || s.size() > 5) return -1;
    auto c = s.find(':');
    if (c == std::string_view::npos || c == 0 || c > 2 || s.size() - c - 1 != 2) return -1;
    if (!all_digits(s.substr(0, c)) || !all_digits(s.substr(c + 1))) return -1;
    int h = to_int(s.substr(0, c)), m = to_int(s.substr(c + 1));
    if (h > 23 || m > 59) return -1;
    return h * 60 + m;
}

std::string_view name_after(std::string_view line, std::size_t end_of_prev) {
    // Exactly one separator after the time/year column: names may begin with spaces. Servers that
    // pad with more spaces are rare for this column.
    if (end_of_prev < line.size() && is_space(line[end_of_prev])) ++end_of_prev;
    return line.substr(end_of_prev);
}

std::optional<list_entry> parse_unix(std::string_view line, std::int64_t now) {
    auto tok = split(line, 12);
    if (tok.size() < 6 || !is_unix_perms(tok[0].text)) return std::nullopt;
    list_entry e;
    char t = tok[0].text[0];
    e.info.type = t == 'd' ? file_info::kind::dir : t == 'l' ? file_info::kind::link
                : t == '-' ? file_info::kind::file : file_info::kind::other;
    e.info.mode = parse_perm_bits(tok[0].text.substr(1, 9));

    // Find the month column: "Mon DD HH:MM|YYYY". Size is the numeric column before it.
    for (std::size_t m = 2; m + 2 < tok.size(); ++m) {
        int mon = month_number(tok[m].text);
        if (!mon) continue;
        std::string_view dd = tok[m + 1].text, ty = tok[m + 2].text;
        if (!all_digits(dd) || dd.size() > 2) continue;
        int day = to_int(dd);
        if (day < 1 || day > 31) continue;
        int minutes = hhmm(ty);
        bool is_year = ty.size() == 4 && all_digits(ty);
        if (minutes < 0 && !is_year) continue;
        std::uint64_t size = 0;
        std::string_view size_text = tok[m - 1].text;
        if (!to_u64(size_text, size)) {
            if (size_text.empty() || size_text.back() != ',') {
                // "major, minor" device numbers: the size column is "4," "0"
                if (m >= 3 && tok[m - 2].text.size() > 1 && tok[m - 2].text.back() == ',') size = 0;
                else continue;
            }
        }
        e.info.size = size;
        if (is_year) {
            e.info.mtime = to_epoch(to_int(ty), mon, day, 0, 0);
        } else {
            int y = year_of(now);
            std::int64_t t1 = to_epoch(y, mon, day, minutes / 60, minutes % 60);
            if (t1 > now + 86400) t1 = to_epoch(y - 1, mon, day, minutes / 60, minutes % 60);
            e.info.mtime = t1;
        }
        e.has_mtime = true;
        // links, owner, group: whatever stands between the permissions and the size
        std::size_t middle = m - 1;  // index of size token
        if (tok[middle - 1].text.size() > 1 && tok[middle - 1].text.back() == ',') --middle;
        std::vector<std::string_view> mid;
        for (std::size_t k = 1; k < middle; ++k) mid.push_back(tok[k].text);
        std::size_t k = 0;
        if (k < mid.size() && all_digits(mid[k])) {
            std::uint64_t n;
            if (to_u64(mid[k], n)) e.info.nlink = static_cast<std::uint32_t>(n);
            ++k;
        }
        if (k < mid.size()) e.info.owner = std::string(mid[k++]);
        if (k < mid.size()) e.info.group = std::string(mid[k++]);
        else e.info.group.clear();

        std::string_view name = name_after(line, tok[m + 2].end);
        if (e.info.type == file_info::kind::link) {
            auto arrow = name.find(" -> ");
            if (arrow != std::string_view::npos) {
                e.link_target = std::string(name.substr(arrow + 4));
                name = name.substr(0, arrow);
            }
        }
        if (name.empty()) return std::nullopt;
        e.info.name = std::string(name);
        e.self_or_parent = name == "." || name == "..";
        return e;
    }
    return std::nullopt;
}

// "01-02-24  03:04PM       <DIR>          name" / "01-02-2024  15:04  1234 name"
std::optional<list_entry> parse_dos(std::string_view line) {
    auto tok = split(line, 4);
    if (tok.size() < 4) return std::nullopt;
    std::string_view date = tok[0].text, time = tok[1].text;
    if (date.size() != 8 && date.size() != 10) return std::nullopt;
    char sep = date[2];
    if ((sep != '-' && sep != '/' && sep != '.') || date[5] != sep) return std::nullopt;
    std::string_view mm = date.substr(0, 2), dd = date.substr(3, 2), yy = date.substr(6);
    if (!all_digits(mm) || !all_digits(dd) || !all_digits(yy)) return std::nullopt;
    int mon = to_int(mm), day = to_int(dd), year = to_int(yy);
    if (yy.size() == 2) year += year < 70 ? 2000 : 1900;
    if (mon < 1 || mon > 12 || day < 1 || day > 31) return std::nullopt;
    bool pm = false, am = false;
    if (time.size() > 2) {
        std::string_view suffix = time.substr(time.size() - 2);
        pm = ieq(suffix, "PM");
        am = ieq(suffix, "AM");
        if (pm || am) time.remove_suffix(2);
    }
    int minutes = hhmm(time);
    if (minutes < 0) return std::nullopt;
    int h = minutes / 60;
    if (am || pm) {
        if (h < 1 || h > 12) return std::nullopt;
        h = (h % 12) + (pm ? 12 : 0);
    }
    list_entry e;
    std::string_view what = tok[2].text;
    if (ieq(what, "<DIR>")) {
        e.info.type = file_info::kind::dir;
    } else if (!to_u64(what, e.info.size)) {
        // IIS may group digits: "1,234"
        std::string digits;
        for (char c : what)
            if (c != ',' && c != '.') digits += c;
        if (!to_u64(digits, e.info.size)) return std::nullopt;
    }
    e.info.mtime = to_epoch(year, mon, day, h, minutes % 60);
    e.has_mtime = true;
    e.info.mode = e.info.type == file_info::kind::dir ? 0755 : 0644;
    e.info.owner.clear();
    e.info.group.clear();
    e.info.name = std::string(line.substr(tok[3].begin));
    e.self_or_parent = e.info.name == "." || e.info.name == "..";
    return e;
}

}  // namespace

std::optional<list_entry> parse_mlsx_line(std::string_view line) {
    // MLST replies indent the fact line by one space.
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp + 1 >= line.size()) return std::nullopt;
    std::string_view facts = line.substr(0, sp);
    list_entry e;
    e.info.name = std::string(line.substr(sp + 1));
    e.info.owner.clear();
    e.info.group.clear();
    bool have_mode = false;
    while (!facts.empty()) {
        auto semi = facts.find(';');
        std::string_view fact = facts.substr(0, semi);
        facts = semi == std::string_view::npos ? std::string_view{} : facts.substr(semi + 1);
        auto eq = fact.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view key = fact.substr(0, eq), val = fact.substr(eq + 1);
        if (ieq(key, "type")) {
            if (ieq(val, "file")) e.info.type = file_info::kind::file;
            else if (ieq(val, "dir")) e.info.type = file_info::kind::dir;
            else if (ieq(val, "cdir") || ieq(val, "pdir")) {
                e.info.type = file_info::kind::dir;
                e.self_or_parent = true;
            } else if (val.size() >= 8 && ieq(val.substr(0, 8), "OS.unix="))
                e.info.type = file_info::kind::link;  // "OS.unix=symlink", "OS.unix=slink:/target" 
            else e.info.type = file_info::kind::other;
        } else if (ieq(key, "size") || ieq(key, "sizd")) {
            to_u64(val, e.info.size);
        } else if (ieq(key, "modify")) {
            e.has_mtime = parse_timeval(val, e.info.mtime);
        } else if (ieq(key, "UNIX.mode")) {
            std::uint32_t m = 0;
            bool ok = !val.empty() && val.size() <= 6;
            for (char c : val) {
                if (c < '0' || c > '7') ok = false;
                m = m * 8 + static_cast<std::uint32_t>(c - '0');
            }
            if (ok) {
                e.info.mode = m & 07777;
                have_mode = true;
            }
        } else if (ieq(key, "UNIX.owner") || ieq(key, "UNIX.ownername")) {
            e.info.owner = std::string(val);
        } else if (ieq(key, "UNIX.group") || ieq(key, "UNIX.groupname")) {
            e.info.group = std::string(val);
        } else if (ieq(key, "perm")) {
            e.info.readable = val.find_first_of("rlReE") != std::string_view::npos;
            e.info.writable = val.find_first_of("wacmfdDp") != std::string_view::npos;
        }
    }
    if (!have_mode) e.info.mode = e.info.type == file_info::kind::dir ? 0755 : 0644;
    if (e.info.name == "." || e.info.name == "..") e.self_or_parent = true;
    return e;
}

std::optional<list_entry> parse_list_line(std::string_view line, std::int64_t now) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    if (line.empty()) return std::nullopt;
    if (auto e = parse_unix(line, now)) return e;
    if (auto e = parse_dos(line)) return e;
    return std::nullopt;
}

listing parse_listing(std::string_view text, bool mlsd, std::int64_t now) {
    listing out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (!mlsd && line.size() >= 6 && ieq(line.substr(0, 6), "total ") && all_digits(line.substr(6)))
            continue;
        auto e = mlsd ? parse_mlsx_line(line) : parse_list_line(line, now);
        if (e)
            out.entries.push_back(std::move(*e));
        else
            out.unparsed.emplace_back(line);
    }
    return out;
}

}  // namespace ferry::proto
