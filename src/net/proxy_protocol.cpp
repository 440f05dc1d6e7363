#include "net/proxy_protocol.hpp"

#include <sys/socket.h>

#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>

#include "net/address_policy.hpp"
#include "net/deadline.hpp"
#include "proto/proxy_header.hpp"

namespace ferry::net {

using asio::ip::tcp;

bool trusted_balancer(const asio::ip::address& peer, const std::vector<std::string>& from) {
    for (const auto& cidr : from)
        if (in_subnet(peer, cidr)) return true;
    return false;
}

namespace {
// recv(2) exactly n bytes that are known to be queued (they were just peeked).
std::error_code take(int fd, char* into, std::size_t n) {
    while (n > 0) {
        const ssize_t got = ::recv(fd, into, n, MSG_DONTWAIT);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return got == 0 ? std::error_code(asio::error::eof) : std::error_code(errno, std::generic_category());
        into += got;
        n -= static_cast<std::size_t>(got);
    }
    return {};
}
}  // namespace

asio::awaitable<std::error_code> receive_proxy_header(tcp::socket& s, std::chrono::steady_clock::duration limit,
                                                      proxied_peer& out, std::string& why) {
    deadline d(s, limit);
    std::array<char, proto::proxy_header_limit> buf;
    std::size_t have = 0;  // bytes taken off the socket: all of them belong to the header
    const int fd = s.native_handle();
    for (;;) {
        auto [ec] = co_await s.async_wait(tcp::socket::wait_read, asio::experimental::as_tuple(asio::use_awaitable));
        if (d.fired()) {
            why = "no whole PROXY header within " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) + " s";
            co_return asio::error::timed_out;
        }
        if (ec) co_return ec;
        // Peeked, not read: only what turns out to be header is taken off the socket.
        const ssize_t n = ::recv(fd, buf.data() + have, buf.size() - have, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            co_return std::error_code(errno, std::generic_category());
        }
        if (n == 0) {
            why = have ? "closed in the middle of its PROXY header" : "closed before sending a PROXY header";
            co_return asio::error::eof;
        }
        const std::size_t seen = have + static_cast<std::size_t>(n);
        const auto r = proto::parse_proxy_header({buf.data(), seen});
        if (r.state == proto::proxy_parse::status::invalid) {
            why = r.error;
            co_return std::make_error_code(std::errc::protocol_error);
        }
        if (r.state == proto::proxy_parse::status::need_more) {
            // Every byte seen is header (the parser's promise): take them, then wait for more.
            if (auto e = take(fd, buf.data() + have, static_cast<std::size_t>(n))) co_return e;
            have = seen;
            continue;
        }
        if (auto e = take(fd, buf.data() + have, r.header.length - have)) co_return e;
        out.version = r.header.version;
        out.relayed = r.header.what == proto::proxy_header::kind::relayed;
        std::error_code pe;
        const auto socket_peer = s.remote_endpoint(pe);
        out.client = tcp::endpoint(unmapped(socket_peer.address()), socket_peer.port());
        if (out.relayed) {
            std::error_code ae;
            const auto a = asio::ip::make_address(r.header.source.address, ae);
            if (ae) {  // cannot happen: the parser wrote it with inet_ntop
                why = "PROXY header: bad source address";
                co_return std::make_error_code(std::errc::protocol_error);
            }
            out.client = tcp::endpoint(unmapped(a), r.header.source.port);
        }
        co_return std::error_code{};
    }
}

}  // namespace ferry::net
