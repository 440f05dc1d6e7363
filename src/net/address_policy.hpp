#pragma once
// Address rules for data connections, as pure functions (no sockets), so they are easy to test.
#include <asio/ip/address.hpp>
#include <cstdint>
#include <string>

namespace ferry::net {

// "::ffff:192.0.2.1" -> 192.0.2.1, so that a dual-stack listener compares like an IPv4 one.
asio::ip::address unmapped(const asio::ip::address& a);
bool same_host(const asio::ip::address& a, const asio::ip::address& b);

// Why a PORT/EPRT target is refused, or empty when it is allowed.
// SECURITY: FTP bounce: by default the data connection may only go back to the control client,
// and never to a privileged port (RFC 2577 section 3).
std::string check_active_target(const asio::ip::address& control_peer, const asio::ip::address& target,
                                std::uint16_t port, bool any_address, bool low_ports);

}  // namespace ferry::net
