#pragma once
// Address rules for data connections, as pure functions (no sockets), so they are easy to test.
#include <asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace ferry::net {

// "::ffff:192.0.2.1" -> 192.0.2.1, so that a dual-stack listener compares like an IPv4 one.
asio::ip::address unmapped(const asio::ip::address& a);
bool same_host(const asio::ip::address& a, const asio::ip::address& b);
// The "host" that per-host limits count (MAXSESSIONSPERHOST, LOGINATTEMPTS): an IPv4 address, or
// the /64 of an IPv6 one, since one IPv6 client usually holds a whole /64 and could otherwise
// step around any per-address limit. "192.0.2.7", "2001:db8:1:2::/64".
std::string host_key(const asio::ip::address& a);

// Why a PORT/EPRT target is refused, or empty when it is allowed.
// SECURITY: FTP bounce: by default the data connection may only go back to the control client,
// and never to a privileged port (RFC 2577 section 3).
std::string check_active_target(const asio::ip::address& control_peer, const asio::ip::address& target,
                                std::uint16_t port, bool any_address, bool low_ports);

// "192.168.0.0/16" contains a? (IPv4 and IPv6; a v4-mapped a counts as IPv4). False for bad text.
bool in_subnet(const asio::ip::address& a, const std::string& cidr);

// PASSIVEADDRESS: which configured address (text, maybe a host name) to write in a PASV reply
// for this client: the first entry whose subnet holds the client, else the first entry without
// a subnet; empty when none applies (then the control connection's local address is used).
// Entries: any range of objects with string members `address` and `cidr` (config's statements).
template <class Entries>
std::string choose_passive_address(const Entries& entries, const asio::ip::address& client) {
    for (const auto& e : entries)
        if (!e.cidr.empty() && in_subnet(client, e.cidr)) return e.address;
    for (const auto& e : entries)
        if (e.cidr.empty()) return e.address;
    return {};
}

}  // namespace ferry::net
