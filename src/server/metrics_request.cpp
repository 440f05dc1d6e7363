#include "server/metrics_request.hpp"

namespace ferry::server {

namespace {

// RFC 9110 section 5.6.2: the characters of a method or header field name.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
            return false;
    }
    return true;
}

bool is_visible(std::string_view s) {
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f) return false;
    return !s.empty();
}

// A header field line "name: value": a token, the colon right after it (RFC 9112 section 5.1:
// no space before it), and a value without control characters other than HTAB.
bool is_field_line(std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return false;
    for (unsigned char c : line.substr(colon + 1))
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    return true;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

// The path of a request target: origin form ("/metrics?x") or absolute form
// ("http://host:9121/metrics"), which RFC 9112 section 3.2.2 says a server must accept.
std::string_view path_of(std::string_view target) {
    for (std::string_view scheme : {"http://", "https://"})
        if (starts_with_nocase(target, scheme)) {
            const auto slash = target.find('/', scheme.size());
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
            break;
        }
    return target.substr(0, target.find('?'));
}

}  // namespace

std::size_t request_head_end(std::string_view received) {
    std::size_t start = 0;
    for (auto nl = received.find('\n'); nl != std::string_view::npos; nl = received.find('\n', start)) {
        const auto line = received.substr(start, nl - start);
        start = nl + 1;
        if (line.empty() || line == "\r") return start;
    }
    return std::string_view::npos;
}

metrics_request parse_metrics_request(std::string_view head) {
    // SECURITY: resource exhaustion: the reader stops at max_request_head; anything longer is
    // refused, never buffered.
    if (head.size() > max_request_head) return {431, false};
    const auto end = request_head_end(head);
    if (end == std::string_view::npos) return {400, false};
    head = head.substr(0, end);

    auto next_line = [&head] {
        const auto nl = head.find('\n');  // present: the head ends with an empty line
        auto line = head.substr(0, nl);
        head.remove_prefix(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return line;
    };
    // request-line = method SP request-target SP HTTP-version
    const auto request_line = next_line();
    const auto sp1 = request_line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return {400, false};
    const auto method = request_line.substr(0, sp1);
    const auto target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto version = request_line.substr(sp2 + 1);
    const bool is_head = method == "HEAD";
    if (!is_token(method) || !is_visible(target) || (version != "HTTP/1.1" && version != "HTTP/1.0"))
        return {400, is_head};
    for (auto line = next_line(); !line.empty(); line = next_line())
        // A bare CR, a folded line (RFC 9112 section 5.2: obsolete, refused) or no field name.
        if (!is_field_line(line)) return {400, is_head};

    if (path_of(target) != "/metrics") return {404, is_head};
    if (method != "GET" && !is_head) return {405, false};
    return {200, is_head};
}

std::string format_metrics_response(const metrics_request& r, std::string_view exposition) {
    std::string_view status, body;
    switch (r.status) {
    case 200: status = "200 OK", body = exposition; break;
    case 400: status = "400 Bad Request", body = "Bad request: send GET /metrics HTTP/1.1\n"; break;
    case 404: status = "404 Not Found", body = "Not found: the metrics are at /metrics\n"; break;
    case 405: status = "405 Method Not Allowed", body = "Method not allowed: use GET or HEAD\n"; break;
    case 431: status = "431 Request Header Fields Too Large", body = "Request head larger than 8 KiB\n"; break;
    default: status = "500 Internal Server Error", body = "Internal error\n"; break;
    }
    std::string out = "HTTP/1.1 ";
    out.reserve(200 + (r.head ? 0 : body.size()));
    out += status;
    out += r.status == 200 ? "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                           : "\r\nContent-Type: text/plain; charset=utf-8\r\n";
    if (r.status == 405) out += "Allow: GET, HEAD\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (!r.head) out += body;
    return out;
}

}  // namespace ferry::server
