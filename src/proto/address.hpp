#pragma once
// Codecs for the address arguments and replies of PORT/PASV (RFC 959) and EPRT/EPSV (RFC 2428).
// Addresses travel as text ("192.0.2.1", "2001:db8::1") so this module needs no socket types.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::proto {

struct host_port {
    std::string host;  // numeric IPv4 or IPv6 text; empty when a reply carries only a port (EPSV)
    std::uint16_t port = 0;
    int family = 0;    // 1 = IPv4, 2 = IPv6 (RFC 2428 numbering), 0 = unspecified
};

// "h1,h2,h3,h4,p1,p2" (PORT argument)
std::optional<host_port> parse_port_arg(std::string_view arg);
// the same six numbers found anywhere in a 227 reply text, e.g. "Entering Passive Mode (h1,...,p2)."
std::optional<host_port> parse_pasv_reply(std::string_view text);
// "h1,h2,h3,h4,p1,p2" from an IPv4 address and port; nullopt if host is not IPv4.
std::optional<std::string> format_port_arg(const host_port& hp);
// 227 reply text
std::optional<std::string> format_pasv_reply(const host_port& hp);

// "|1|132.235.1.2|6275|" — any delimiter character in 33..126, family 1 or 2.
std::optional<host_port> parse_eprt_arg(std::string_view arg);
std::string format_eprt_arg(const host_port& hp);
// "(|||6446|)" found in a 229 reply text
std::optional<std::uint16_t> parse_epsv_reply(std::string_view text);
std::string format_epsv_reply(std::uint16_t port);

// true for a syntactically valid numeric IPv4 / IPv6 address
bool is_ipv4(std::string_view host);
bool is_ipv6(std::string_view host);
// "::ffff:192.0.2.1" -> "192.0.2.1"; other text unchanged
std::string unmap_ipv4(std::string_view host);

}  // namespace ferry::proto
