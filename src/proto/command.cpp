#include "proto/command.hpp"

namespace ferry::proto {

namespace {
bool is_ascii_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
}  // namespace

bool parse_command(std::string_view line, command& out) {
    auto sp = line.find(' ');
    std::string_view verb = line.substr(0, sp);
    // RFC 959 verbs are 3 or 4 letters; anything else is junk (or an HTTP request sent to us).
    if (verb.size() < 3 || verb.size() > 4) return false;
    for (char c : verb)
        if (!is_ascii_letter(c)) return false;
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
