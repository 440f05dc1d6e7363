// server::parse_metrics_request (the METRICS endpoint's HTTP request head) on arbitrary bytes,
// and the response made from its answer.
// Invariants: one of the five answers; 200 only for a complete GET or HEAD head; HEAD only for a
// HEAD request; bytes after the head never change the answer; every response is one HTTP/1.1
// head whose Content-Length is its body's (none sent for HEAD).
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "server/metrics_request.hpp"

using ferry::fuzz::show;
using namespace ferry::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const metrics_request r = parse_metrics_request(in);
    FUZZ_CHECK(r.status == 200 || r.status == 400 || r.status == 404 || r.status == 405 || r.status == 431,
               "status " + std::to_string(r.status) + " for " + show(in));
    FUZZ_CHECK((r.status == 431) == (in.size() > max_request_head), "431 for " + show(in));
    const auto end = request_head_end(in);
    if (r.status == 200) {
        FUZZ_CHECK(end != std::string_view::npos, "200 for an unfinished head " + show(in));
        FUZZ_CHECK(in.starts_with("GET ") || in.starts_with("HEAD "), "200 for " + show(in));
    }
    if (r.head) FUZZ_CHECK(in.starts_with("HEAD "), "HEAD answer for " + show(in));
    if (end != std::string_view::npos && in.size() <= max_request_head) {
        const auto alone = parse_metrics_request(in.substr(0, end));
        FUZZ_CHECK(alone.status == r.status && alone.head == r.head, "the body changed the answer: " + show(in));
    }

    const std::string body = "ferry_sessions_open 1\n";
    const std::string out = format_metrics_response(r, body);
    FUZZ_CHECK(out.starts_with("HTTP/1.1 " + std::to_string(r.status) + " "), show(out));
    const auto head_end = out.find("\r\n\r\n");
    FUZZ_CHECK(head_end != std::string::npos, "no head end in " + show(out));
    const std::string_view sent_body = std::string_view(out).substr(head_end + 4);
    const auto at = out.find("\r\nContent-Length: ");
    FUZZ_CHECK(at != std::string::npos && at < head_end, show(out));
    const std::size_t length = std::stoul(out.substr(at + 18));
    FUZZ_CHECK(r.head ? sent_body.empty() : sent_body.size() == length, show(out));
    if (r.status == 200) FUZZ_CHECK(length == body.size(), show(out));
    return 0;
}
