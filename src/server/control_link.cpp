#include "server/control_link.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "net/address_policy.hpp"

namespace ferry::server {

using asio::ip::tcp;

tcp_control_link::tcp_control_link(tcp::socket socket, unsigned keepalive_seconds, std::optional<tcp::endpoint> client,
                                   const std::vector<std::string>* balancers)
    : ctl_(std::move(socket)), balancers_(balancers) {
    // A client's close is then seen as a FIN, not as a RST provoked by our alert: an upload
    // ended by FIN is committed only if the client did not die with its 226 unread (transfer.cpp).
    ctl_.set_quiet_eof();
    std::error_code ec;
    auto peer = ctl_.socket().remote_endpoint(ec);
    peer_ = client ? *client : tcp::endpoint(net::unmapped(peer.address()), peer.port());
    auto local = ctl_.socket().local_endpoint(ec);
    local_ = tcp::endpoint(net::unmapped(local.address()), local.port());
    ctl_.socket().set_option(tcp::no_delay(true), ec);
    if (keepalive_seconds > 0) {
        ctl_.socket().set_option(asio::socket_base::keep_alive(true), ec);
        int idle = static_cast<int>(keepalive_seconds);
        ::setsockopt(ctl_.socket().native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        ::setsockopt(ctl_.socket().native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
    }
}

asio::awaitable<std::error_code> tcp_control_link::send(std::string_view wire) {
    co_return co_await ctl_.write_all(wire.data(), wire.size());
}

asio::awaitable<std::size_t> tcp_control_link::receive(char* data, std::size_t size, std::error_code& ec) {
    co_return co_await ctl_.read_some(data, size, ec);
}

void tcp_control_link::wait_readable(std::function<void(std::error_code)> done) {
    ctl_.socket().async_wait(tcp::socket::wait_read, std::move(done));
}

void tcp_control_link::interrupt() {
    std::error_code ig;
    ctl_.socket().cancel(ig);
}

asio::awaitable<std::error_code> tcp_control_link::start_tls(const tls::context& ctx, int tickets) {
    co_return co_await ctl_.handshake_server(ctx, tickets);
}

asio::awaitable<std::error_code> tcp_control_link::end_tls(bool wait_for_peer) {
    co_return co_await ctl_.end_tls(wait_for_peer);
}

asio::awaitable<std::error_code> tcp_control_link::end_tls_answering(bool answer, std::chrono::milliseconds grace) {
    co_return co_await ctl_.end_tls_answering(answer, grace);
}

asio::awaitable<void> tcp_control_link::close_gracefully() { co_await ctl_.close_gracefully(); }

asio::awaitable<net::delivery> tcp_control_link::wait_delivered(std::chrono::steady_clock::duration limit,
                                                                std::chrono::steady_clock::duration settle) {
    const auto mark = net::mark_now(ctl_.socket());
    co_return co_await net::wait_delivered(ctl_.socket(), mark, limit, settle);
}

std::error_code tcp_control_link::listen_passive(std::uint16_t low, std::uint16_t high) {
    if (!passive_) {
        passive_ = std::make_unique<net::passive_listener>(ctl_.socket().get_executor());
        passive_->expect_proxy_from(balancers_);
    }
    return passive_->open(local_.address(), low, high);
}

asio::awaitable<std::error_code> tcp_control_link::accept_data(tcp::socket& out,
                                                               std::optional<asio::ip::address> required_peer,
                                                               net::refused_connections& refused) {
    if (!passive_) co_return asio::error::bad_descriptor;  // no EPSV/PASV before
    co_return co_await passive_->accept(out, required_peer, refused);
}

asio::awaitable<std::error_code> tcp_control_link::connect_data(tcp::socket& out, bool from_port_20,
                                                                const tcp::endpoint& target) {
    co_return co_await net::connect_active(out, local_.address(), from_port_20, target);
}

}  // namespace ferry::server
