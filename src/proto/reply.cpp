#include "proto/reply.hpp"

#include <cctype>
#include <cstdint>

#include <cstdio>

namespace ferry::proto {

namespace {

std::string code_text(int code) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%03d", code);
    return buf;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string format_reply(int code, std::string_view text) {
    // Split into lines; a trailing '\n' ends the last line rather than starting an empty one.
    // CRs are dropped so "a\r\nb" text and stray CRs cannot end a line early on lenient clients.
    std::vector<std::string> lines(1);
    for (char c : text) {
        if (c == '\n')
            lines.emplace_back();
        else if (c != '\r')
            lines.back().push_back(c);
    }
    if (lines.size() > 1 && lines.back().empty()) lines.pop_back();

    const std::string c = code_text(code);
    std::string out;
    if (lines.size() == 1) {
        out = c + ' ' + lines[0] + "\r\n";
        return out;
    }
    out = c + '-' + lines.front() + "\r\n";
    // SECURITY: (reply forgery) inner lines may carry client-supplied text such as file names;
    // the leading space guarantees none of them reads as "ddd " and closes the reply early.
    for (std::size_t i = 1; i + 1 < lines.size(); ++i) out += ' ' + lines[i] + "\r\n";
    out += c + ' ' + lines.back() + "\r\n";
    return out;
}

std::string reply::text() const {
    std::string r;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i) r.push_back('\n');
        r += lines[i];
    }
    return r;
}

// Inner lines of a multi-line reply are stored without their decoration: a "ddd-" prefix with
// the reply's own code (some servers repeat it on every line) or one leading space (our own
// format_reply, and the RFC 2389 FEAT layout) is removed, so format_reply -> parse round-trips.
reply_parser::status reply_parser::feed_line(std::string_view line) {
    if (!in_multi_) {
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
            return status::bad;
        current_ = reply{};
        current_.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (line.size() == 3) {
            current_.lines.emplace_back();
            return status::done;
        }
        if (line[3] == ' ') {
            current_.lines.emplace_back(line.substr(4));
            return status::done;
        }
        if (line[3] == '-') {
            current_.lines.emplace_back(line.substr(4));
            in_multi_ = true;
            return status::need_more;
        }
        return status::bad;
    }

    const std::string c = code_text(current_.code);
    bool same_code = line.size() >= 3 && line.substr(0, 3) == c;
    if (same_code && (line.size() == 3 || line[3] == ' ')) {
        current_.lines.emplace_back(line.size() == 3 ? std::string_view{} : line.substr(4));
        in_multi_ = false;
        return status::done;
    }
    if (same_code && line[3] == '-')
        line.remove_prefix(4);
    else if (!line.empty() && line.front() == ' ')
        line.remove_prefix(1);
    current_.lines.emplace_back(line);
    return status::need_more;
}

std::string quote_pathname(std::string_view path) {
    std::string out = "\"";
    for (char c : path) {
        out += c;
        if (c == '"') out += '"';
    }
    return out + "\"";
}

std::string parse_quoted_pathname(std::string_view text) {
    const auto q = text.find('"');
    if (q == std::string_view::npos) return std::string(text);
    std::string out;
    for (std::size_t i = q + 1; i < text.size(); ++i) {
        if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
                out += '"';
                ++i;
                continue;
            }
            break;
        }
        out += text[i];
    }
    return out;
}

std::string transfer_size_note(std::uint64_t bytes) { return "(" + std::to_string(bytes) + " bytes)"; }

std::uint64_t parse_transfer_size(std::string_view t) {
    const auto p = t.find(" bytes)");
    if (p == std::string_view::npos) return 0;
    const auto open = t.rfind('(', p);
    if (open == std::string_view::npos || open + 1 == p) return 0;
    std::uint64_t n = 0;
    for (std::size_t i = open + 1; i < p; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(t[i]))) return 0;
        const auto digit = static_cast<std::uint64_t>(t[i] - '0');
        if (n > (UINT64_MAX - digit) / 10) return 0;  // not a size any file has
        n = n * 10 + digit;
    }
    return n;
}

}  // namespace ferry::proto
