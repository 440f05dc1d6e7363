#include "proto/proxy_header.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <vector>

namespace ferry::proto {

namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v1_limit = 107;  // the spec's longest line, CRLF included
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t v2_fixed = 16;

proxy_parse invalid(std::string why) {
    proxy_parse p;
    p.state = proxy_parse::status::invalid;
    p.error = std::move(why);
    return p;
}

// Whether bytes so far agree with the start of `prefix` (shorter input: as far as it goes).
bool agrees(std::string_view bytes, std::string_view prefix) {
    const std::size_t n = std::min(bytes.size(), prefix.size());
    return bytes.substr(0, n) == prefix.substr(0, n);
}

bool address_text(int family, std::string_view text, std::string& canonical) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
    const std::string z(text);
    unsigned char raw[16];
    if (::inet_pton(family, z.c_str(), raw) != 1) return false;
    char out[INET6_ADDRSTRLEN];
    if (!::inet_ntop(family, raw, out, sizeof out)) return false;
    canonical = out;
    return true;
}

// v1 ports: 1 to 5 digits, no leading zero, at most 65535.
bool port_text(std::string_view text, std::uint16_t& port) {
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
    unsigned v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 65535) return false;
    port = static_cast<std::uint16_t>(v);
    return true;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto sp = line.find(' ', start);
        out.push_back(line.substr(start, sp == std::string_view::npos ? std::string_view::npos : sp - start));
        if (sp == std::string_view::npos) return out;
        start = sp + 1;
    }
}

proxy_parse parse_v1(std::string_view bytes) {
    const auto crlf = bytes.substr(0, v1_limit).find("\r\n");
    if (crlf == std::string_view::npos) {
        // Only printable text may come before the line's end; a lone LF or CR ends it wrongly.
        const auto seen = bytes.substr(0, v1_limit);
        for (std::size_t i = 0; i < seen.size(); ++i) {
            const auto c = static_cast<unsigned char>(seen[i]);
            const bool last_cr = c == '\r' && i + 1 == seen.size();
            if ((c < 0x20 || c > 0x7e) && !last_cr) return invalid("PROXY v1: a control byte in the header line");
        }
        if (bytes.size() >= v1_limit) return invalid("PROXY v1: no line end within 107 bytes");
        return {};
    }
    const std::string_view line = bytes.substr(v1_prefix.size(), crlf - v1_prefix.size());
    for (char c : line)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
            return invalid("PROXY v1: a control byte in the header line");
    proxy_parse p;
    p.state = proxy_parse::status::done;
    p.header.version = 1;
    p.header.length = crlf + 2;
    if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) {
        p.header.what = proxy_header::kind::local;
        return p;
    }
    const auto f = split_spaces(line);
    if (f.size() != 5) return invalid("PROXY v1: expected 'TCP4|TCP6 source destination sport dport'");
    int family;
    if (f[0] == "TCP4")
        family = AF_INET;
    else if (f[0] == "TCP6")
        family = AF_INET6;
    else
        return invalid("PROXY v1: unknown protocol '" + std::string(f[0]) + "'");
    auto& h = p.header;
    h.what = proxy_header::kind::relayed;
    if (!address_text(family, f[1], h.source.address) || !address_text(family, f[2], h.destination.address))
        return invalid("PROXY v1: an address is not a " + std::string(f[0]) + " address");
    if (!port_text(f[3], h.source.port) || !port_text(f[4], h.destination.port))
        return invalid("PROXY v1: a port is not a number from 0 to 65535");
    return p;
}

proxy_parse parse_v2(std::string_view bytes) {
    const auto at = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
    if (bytes.size() > 12 && (at(12) >> 4) != 2) return invalid("PROXY v2: version is not 2");
    if (bytes.size() > 12 && (at(12) & 0xf) > 1) return invalid("PROXY v2: command is neither LOCAL nor PROXY");
    if (bytes.size() < v2_fixed) return {};
    const bool local = (at(12) & 0xf) == 0;
    const unsigned family = at(13);
    const std::size_t length = (std::size_t{at(14)} << 8) | at(15);
    if (v2_fixed + length > proxy_header_limit)
        return invalid("PROXY v2: header of " + std::to_string(v2_fixed + length) + " bytes is too long");
    if (bytes.size() < v2_fixed + length) return {};

    proxy_parse p;
    p.state = proxy_parse::status::done;
    p.header.version = 2;
    p.header.length = v2_fixed + length;
    const std::string_view body = bytes.substr(v2_fixed, length);
    // The address block: TCP over IPv4 (0x11) or IPv6 (0x21); UNSPEC (0x00) has none.
    int af = 0;
    std::size_t size = 0;
    if (family == 0x11) {
        af = AF_INET;
        size = 4;
    } else if (family == 0x21) {
        af = AF_INET6;
        size = 16;
    } else if (family != 0x00) {
        // LOCAL: the balancer's own connection; whatever it says about addresses is ignored.
        if (local) return p;
        return invalid("PROXY v2: address family/protocol " + std::to_string(family) + " is not TCP over IPv4 or IPv6");
    }
    const std::size_t addresses = af ? 2 * size + 4 : 0;
    if (length < addresses) return invalid("PROXY v2: the addresses do not fit in the stated length");
    if (af && !local) {
        char text[INET6_ADDRSTRLEN];
        auto& h = p.header;
        h.what = proxy_header::kind::relayed;
        ::inet_ntop(af, body.data(), text, sizeof text);
        h.source.address = text;
        ::inet_ntop(af, body.data() + size, text, sizeof text);
        h.destination.address = text;
        const auto port = [&](std::size_t i) {
            return static_cast<std::uint16_t>((static_cast<unsigned char>(body[i]) << 8) |
                                              static_cast<unsigned char>(body[i + 1]));
        };
        h.source.port = port(2 * size);
        h.destination.port = port(2 * size + 2);
    }
    // What follows the addresses must be whole TLVs (type, 16-bit length, value).
    for (std::size_t i = addresses; i < length;) {
        if (length - i < 3) return invalid("PROXY v2: a truncated TLV");
        const std::size_t tlv = (std::size_t{static_cast<unsigned char>(body[i + 1])} << 8) |
                                static_cast<unsigned char>(body[i + 2]);
        if (length - i - 3 < tlv) return invalid("PROXY v2: a TLV longer than the header");
        i += 3 + tlv;
    }
    return p;
}

}  // namespace

proxy_parse parse_proxy_header(std::string_view bytes) {
    if (bytes.empty()) return {};
    if (agrees(bytes, v1_prefix)) return bytes.size() < v1_prefix.size() ? proxy_parse{} : parse_v1(bytes);
    if (agrees(bytes, v2_signature)) return bytes.size() < v2_signature.size() ? proxy_parse{} : parse_v2(bytes);
    return invalid("no PROXY protocol header");
}

}  // namespace ferry::proto
