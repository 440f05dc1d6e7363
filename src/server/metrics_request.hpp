#pragma once
// The METRICS endpoint's HTTP, sans I/O: what a request head asks for, and the bytes of the
// answer. Only `GET /metrics` and `HEAD /metrics` (with any query string) are served; each
// connection carries one request and is closed after the answer (Connection: close).
// std only, so that the unit tests and the fuzz target (fuzz_metrics_request) drive it directly.
#include <cstddef>
#include <string>
#include <string_view>

namespace ferry::server {

// The longest request head read (request line and header fields, with the empty line ending them).
inline constexpr std::size_t max_request_head = 8 * 1024;

struct metrics_request {
    int status = 400;   // 200: answer with the metrics; otherwise the error to answer with
    bool head = false;  // HEAD: the same status line and headers, no body
};

// Where the head in `received` ends (just past its empty line: CRLF CRLF, or a bare LF LF), or
// std::string_view::npos while the head is incomplete.
std::size_t request_head_end(std::string_view received);

// The answer to one request head: the bytes received up to request_head_end(), or all of them
// when the head never ended (400; longer than max_request_head: 431).
metrics_request parse_metrics_request(std::string_view head);

// The whole response: status line, Content-Type, Content-Length, Connection: close (and Allow on
// 405), the empty line and the body unless HEAD. `exposition` is the body of a 200; the errors
// carry a short text of their own.
std::string format_metrics_response(const metrics_request& r, std::string_view exposition);

}  // namespace ferry::server
