#include "client/shell_words.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

#include "proto/printable.hpp"

namespace ferry::client {

namespace {
bool space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
}  // namespace

std::optional<std::vector<std::string>> split_words(std::string_view line, std::string& error) {
    std::vector<std::string> out;
    std::string cur;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quote) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
                cur += line[++i];
            } else {
                cur += c;
            }
            continue;
        }
        if (c == '"' || c == '\'') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < line.size()) {
            cur += line[++i];
            in_word = true;
        } else if (space(c)) {
            if (in_word) out.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur += c;
            in_word = true;
        }
    }
    if (quote) {
        error = "unterminated quote";
        return std::nullopt;
    }
    if (in_word) out.push_back(std::move(cur));
    return out;
}

std::string rest_of_line(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && space(line[i])) ++i;
    while (i < line.size() && !space(line[i])) ++i;
    while (i < line.size() && space(line[i])) ++i;
    std::string r(line.substr(i));
    while (!r.empty() && space(r.back())) r.pop_back();
    return r;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string base_name(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dir_name(const std::string& path) {
    auto s = path.rfind('/');
    if (s == std::string::npos) return {};
    if (s == 0) return "/";
    return path.substr(0, s);
}

std::string join_remote(const std::string& dir, const std::string& name) {
    if (dir.empty()) return name;
    if (dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::vector<std::string> remote_glob_matches(const proto::listing& listing, const std::string& pattern,
                                             std::vector<std::string>& skipped) {
    const std::string dir = dir_name(pattern), base = base_name(pattern);
    std::vector<std::string> names;
    for (const auto& e : listing.entries) {
        if (e.self_or_parent || e.info.type == proto::file_info::kind::dir) continue;
        const std::string name = base_name(e.info.name);
        if (::fnmatch(base.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
        if (name.empty() || name == "." || name == ".." || proto::printable(name) != name) {
            skipped.push_back(e.info.name);
            continue;
        }
        names.push_back(join_remote(dir, name));
    }
    return names;
}

std::string desynchronising_verb(std::string_view command) {
    static constexpr std::string_view verbs[] = {"auth", "ccc",  "pbsz", "prot", "pasv", "epsv", "port", "eprt",
                                                 "retr", "stor", "list", "mlsd", "nlst", "appe", "stou"};
    std::string verb = lower(std::string(command.substr(0, command.find(' '))));
    return std::find(std::begin(verbs), std::end(verbs), verb) != std::end(verbs) ? verb : std::string();
}

}  // namespace ferry::client
