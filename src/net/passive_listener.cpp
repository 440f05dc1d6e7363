#include "net/passive_listener.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <random>

#include "net/address_policy.hpp"
#include "net/proxy_protocol.hpp"

namespace ferry::net {

using asio::ip::tcp;
namespace {
constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
}

std::error_code passive_listener::open(const asio::ip::address& local, std::uint16_t low, std::uint16_t high) {
    close();
    std::error_code ec;
    const tcp protocol = local.is_v4() ? tcp::v4() : tcp::v6();
    if (low == 0) {
        acceptor_.open(protocol, ec);
        if (!ec) acceptor_.bind(tcp::endpoint(local, 0), ec);
        if (!ec) acceptor_.listen(4, ec);
        if (!ec) port_ = acceptor_.local_endpoint(ec).port();
        if (ec) close();
        return ec;
    }
    // Random start spreads sessions over the range and makes the next port hard to guess.
    static thread_local std::minstd_rand rng{std::random_device{}()};
    const unsigned span = static_cast<unsigned>(high - low) + 1;
    const unsigned start = std::uniform_int_distribution<unsigned>(0, span - 1)(rng);
    for (unsigned i = 0; i < span; ++i) {
        auto port = static_cast<std::uint16_t>(low + (start + i) % span);
        acceptor_.open(protocol, ec);
        if (ec) return ec;
        // Allows binding while old data connections of this port sit in TIME_WAIT.
        acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
        acceptor_.bind(tcp::endpoint(local, port), ec);
        if (!ec) acceptor_.listen(4, ec);
        if (!ec) {
            port_ = port;
            return {};
        }
        acceptor_.close();
    }
    return asio::error::address_in_use;
}

asio::awaitable<std::error_code> passive_listener::accept(tcp::socket& out, std::optional<asio::ip::address> required_peer,
                                                          refused_connections& refused) {
    for (;;) {
        tcp::socket s(acceptor_.get_executor());
        // The peer's address as accept() reports it: a connection the client reset while it
        // waited in the backlog has none afterwards (getpeername fails), yet it is the client's,
        // and its transfer must fail now, not wait for another connection until DATACTTIME.
        tcp::endpoint peer;
        auto [ec] = co_await acceptor_.async_accept(s, peer, tuple_awaitable);
        if (ec) co_return ec;
        if (balancers_) {
            // SECURITY: behind a balancer only it may connect, and its header names the client.
            proxied_peer relayed;
            std::string why;
            if (!trusted_balancer(peer.address(), *balancers_) ||
                co_await receive_proxy_header(s, proxy_header_timeout, relayed, why)) {
                ++refused.count;
                refused.last = unmapped(peer.address());
                std::error_code ig;
                s.close(ig);
                continue;
            }
            peer = relayed.client;
        }
        // SECURITY: connection stealing: only the control client may connect to its data port.
        if (required_peer && !same_host(peer.address(), *required_peer)) {
            ++refused.count;
            refused.last = unmapped(peer.address());
            std::error_code ig;
            s.close(ig);
            continue;
        }
        out = std::move(s);
        close();
        co_return std::error_code{};
    }
}

void passive_listener::close() {
    std::error_code ec;
    acceptor_.close(ec);
}

asio::awaitable<std::error_code> connect_active(tcp::socket& s, const asio::ip::address& local, bool from_port_20,
                                                const tcp::endpoint& target) {
    std::error_code ec;
    s.open(target.protocol(), ec);
    if (ec) co_return ec;
    s.set_option(tcp::socket::reuse_address(true), ec);
    if (from_port_20) {
        s.bind(tcp::endpoint(local, 20), ec);
        if (ec) {  // not privileged: fall back to an ephemeral port
            s.close(ec);
            s.open(target.protocol(), ec);
            if (ec) co_return ec;
            s.bind(tcp::endpoint(local, 0), ec);
        }
    } else {
        s.bind(tcp::endpoint(local, 0), ec);
    }
    if (ec) co_return ec;
    auto [cec] = co_await s.async_connect(target, tuple_awaitable);
    co_return cec;
}

}  // namespace ferry::net
