#pragma once
// JSONLOG: one JSON object a line per event, for log pipelines (jq, Loki, Elasticsearch):
//
//   {"time":"2026-12-06T17:20:01.250Z","event":"transfer","session":7,"client":"192.0.2.4",
//    "user":"alice","direction":"download","path":"/big.iso","bytes":1048576,"seconds":0.412,
//    "result":"complete","code":226,"protection":"tls","data_tls":"TLSv1.3",...}
//
// json_event builds the line; the session adds its own fields (session.cpp) and writes it to the
// server's line_log. Strings are escaped as RFC 8259 asks, and bytes that are not UTF-8 (a file
// name is any bytes) become U+FFFD, so that every line is valid JSON whatever the client sent.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::server {

class json_event {
public:
    // Starts {"time":..., "event":name}; time in UTC with milliseconds.
    explicit json_event(std::string_view name,
                        std::chrono::system_clock::time_point when = std::chrono::system_clock::now());
    json_event& str(std::string_view key, std::string_view value);
    json_event& num(std::string_view key, std::uint64_t value);
    json_event& real(std::string_view key, double value);  // 3 decimals
    json_event& flag(std::string_view key, bool value);
    // The finished object (no newline).
    std::string text() const { return text_ + "}"; }

private:
    void key(std::string_view k);
    std::string text_;
};

// out += s as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

}  // namespace ferry::server
