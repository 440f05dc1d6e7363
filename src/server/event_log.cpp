#include "server/event_log.hpp"

#include <cstdio>
#include <ctime>

namespace ferry::server {

namespace {

// The length of the well-formed UTF-8 sequence at s[i], or 0 (overlong forms, surrogates and
// code points past U+10FFFF are not well formed: RFC 3629).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (i + n > s.size()) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            if (std::size_t n = utf8_sequence(s, i)) {
                out.append(s.substr(i, n));
                i += n;
            } else {
                out += "\\ufffd";
                ++i;
            }
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
        ++i;
    }
    out.push_back('"');
}

json_event::json_event(std::string_view name, std::chrono::system_clock::time_point when) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(when.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char buf[96];  // room for any int the format could print (the compiler checks)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    text_.reserve(256);
    text_ = "{\"time\":\"";
    text_ += buf;
    text_ += '"';
    str("event", name);
}

void json_event::key(std::string_view k) {
    text_.push_back(',');
    append_json_string(text_, k);
    text_.push_back(':');
}

json_event& json_event::str(std::string_view k, std::string_view value) {
    key(k);
    append_json_string(text_, value);
    return *this;
}

json_event& json_event::num(std::string_view k, std::uint64_t value) {
    key(k);
    text_ += std::to_string(value);
    return *this;
}

json_event& json_event::real(std::string_view k, double value) {
    key(k);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", value >= 0 && value < 1e12 ? value : 0.0);
    text_ += buf;
    return *this;
}

json_event& json_event::flag(std::string_view k, bool value) {
    key(k);
    text_ += value ? "true" : "false";
    return *this;
}

}  // namespace ferry::server
