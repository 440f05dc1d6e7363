#pragma once
// The listening side of a passive (PASV/EPSV) data connection, on a port from PASSIVEDATAPORTS.
// The bound listener is the lease: the kernel guarantees no two sessions share a port, and
// closing the listener releases it.
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace ferry::net {

// The connections accept() closed because they were not the client's (connection stealing).
struct refused_connections {
    std::size_t count = 0;
    asio::ip::address last;  // who the last one came from (behind a balancer: its header's client)
};

class passive_listener {
public:
    explicit passive_listener(asio::any_io_executor ex) : acceptor_(ex) {}
    // Binds on local (the control connection's local address) to a port in [low, high], trying
    // them from a random start; low == 0 means any ephemeral port. address_in_use when full.
    std::error_code open(const asio::ip::address& local, std::uint16_t low, std::uint16_t high);
    bool is_open() const { return acceptor_.is_open(); }
    std::uint16_t port() const { return port_; }
    // Accepts one connection. With required_peer set, connections from other addresses are
    // closed and waiting goes on (connection stealing). The caller bounds it in time via close().
    asio::awaitable<std::error_code> accept(asio::ip::tcp::socket& out, std::optional<asio::ip::address> required_peer,
                                            refused_connections& refused);
    void close();
    // PROXYPROTOCOL: data connections come through these balancers (subnets), each with a PROXY
    // header naming the client, and required_peer is checked against that client. The vector
    // outlives the listener (the session's settings).
    void expect_proxy_from(const std::vector<std::string>* balancers) { balancers_ = balancers; }

private:
    asio::ip::tcp::acceptor acceptor_;
    const std::vector<std::string>* balancers_ = nullptr;
    std::uint16_t port_ = 0;
};

// Connects out to an active-mode (PORT/EPRT) target from local (port 20 if from_port_20 and the
// process may bind it, else ephemeral).
asio::awaitable<std::error_code> connect_active(asio::ip::tcp::socket& s, const asio::ip::address& local,
                                                bool from_port_20, const asio::ip::tcp::endpoint& target);

}  // namespace ferry::net
