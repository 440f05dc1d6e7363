#include "proto/command.hpp"

namespace ferry::proto {

namespace {
bool is_ascii_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
}  // namespace

bool parse_command(std::string_view line, command& out) {
    auto sp = line.find(' ');
    std::string_view verb = line.substr(0, sp);
    // RFC 959 verbs are 3 or 4 letters; the digest extensions add digits at the end (XMD5,
    // XSHA256). Anything else is junk (or an HTTP request sent to us).
    std::size_t letters = 0;
    while (letters < verb.size() && is_ascii_letter(verb[letters])) ++letters;
    if (letters < 3 || letters > 4) return false;
    std::size_t digits = verb.size() - letters;
    if (digits > 3) return false;
    for (char c : verb.substr(letters))
        if (c < '0' || c > '9') return false;
    out.verb.clear();
    for (char c : verb) out.verb.push_back(to_upper(c));
    // Only the single separating space is removed: "STOR  a" names the file " a".
    if (sp == std::string_view::npos)
        out.arg.clear();
    else
        out.arg.assign(line.substr(sp + 1));
    return true;
}

std::string upper(std::string_view s) {
    auto is_space = [](char c) { return c == ' ' || c == '\t'; };
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    std::string r;
    r.reserve(s.size());
    for (char c : s) r.push_back(to_upper(c));
    return r;
}

}  // namespace ferry::proto
