#pragma once
// The PROXY protocol on a socket (PROXYPROTOCOL): which peers are trusted balancers, and reading
// the header they send first, bounded in bytes and in time, without taking any byte that
// follows it (the client's own bytes, e.g. a TLS ClientHello, may arrive in the same segment).
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <string>
#include <system_error>
#include <vector>

namespace ferry::net {

// How long a trusted balancer has to send the whole header.
inline constexpr std::chrono::seconds proxy_header_timeout{5};

// Whether a connection from `peer` may carry a PROXY header: it lies in one of `from` (subnets).
bool trusted_balancer(const asio::ip::address& peer, const std::vector<std::string>& from);

struct proxied_peer {
    asio::ip::tcp::endpoint client;  // the relayed client; for the balancer's own connections, the balancer
    bool relayed = false;            // false: LOCAL/UNKNOWN (health checks and the like)
    int version = 0;
};

// Reads the header from s (the socket's peer must be trusted: the caller checks). On failure,
// `why` says what was wrong for the log: timed_out, eof, or protocol_error (not a header).
asio::awaitable<std::error_code> receive_proxy_header(asio::ip::tcp::socket& s, std::chrono::steady_clock::duration limit,
                                                      proxied_peer& out, std::string& why);

}  // namespace ferry::net
