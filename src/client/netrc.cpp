#include "client/netrc.hpp"

#include <cctype>
#include <vector>

namespace ferry::client {

namespace {

// Tokens separated by white space; "double quoted" tokens may hold spaces (curl extension).
// Newlines are kept as "\n" tokens so that macdef bodies can be skipped.
std::vector<std::string> tokens(std::string_view text) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c == '\n') {
            out.emplace_back("\n");
            ++i;
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
            continue;
        }
        if (c == '#' && (out.empty() || out.back() == "\n")) {  // comment line
            while (i < text.size() && text[i] != '\n') ++i;
            continue;
        }
        std::string tok;
        if (c == '"') {
            ++i;
            while (i < text.size() && text[i] != '"') {
                if (text[i] == '\\' && i + 1 < text.size()) ++i;
                tok += text[i++];
            }
            ++i;
        } else {
            while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) tok += text[i++];
        }
        out.push_back(std::move(tok));
    }
    return out;
}

bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
}

}  // namespace

std::optional<netrc_entry> netrc_find(std::string_view text, std::string_view host, std::string_view user) {
    auto t = tokens(text);
    struct block {
        bool is_default = false;
        std::string machine;
        netrc_entry e;
        bool has_login = false;
    };
    std::vector<block> blocks;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const std::string& k = t[i];
        if (k == "\n") continue;
        auto value = [&](std::string& out) {
            std::size_t j = i + 1;
            while (j < t.size() && t[j] == "\n") ++j;
            if (j < t.size()) {
                out = t[j];
                i = j;
                return true;
            }
            return false;
        };
        if (k == "machine") {
            blocks.emplace_back();
            value(blocks.back().machine);
        } else if (k == "default") {
            blocks.emplace_back();
            blocks.back().is_default = true;
        } else if (k == "macdef") {
            std::string name;
            value(name);
            // body: up to an empty line (two newlines in a row)
            ++i;
            while (i < t.size() && !(t[i] == "\n" && i + 1 < t.size() && t[i + 1] == "\n")) ++i;
            ++i;
        } else if (!blocks.empty()) {
            std::string v;
            if (k == "login") {
                if (value(v)) {
                    blocks.back().e.login = v;
                    blocks.back().has_login = true;
                }
            } else if (k == "password" || k == "passwd") {
                if (value(v)) {
                    blocks.back().e.password = v;
                    blocks.back().e.has_password = true;
                }
            } else if (k == "account") {
                value(v);
            }
        }
    }
    auto matches_user = [&](const block& b) { return user.empty() || !b.has_login || b.e.login == user; };
    for (const auto& b : blocks)
        if (!b.is_default && ieq(b.machine, host) && matches_user(b)) return b.e;
    for (const auto& b : blocks)
        if (b.is_default && matches_user(b)) return b.e;
    return std::nullopt;
}

}  // namespace ferry::client
