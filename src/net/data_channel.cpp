#include "net/data_channel.hpp"

#include "net/deadline.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

namespace ferry::net {

using asio::ip::tcp;

asio::awaitable<std::error_code> data_channel::protect_as_server(const tls::context& ctx, int tickets) {
    co_return co_await stream_->handshake_server(ctx, tickets);
}

asio::awaitable<std::error_code> data_channel::protect_as_client(const tls::client_context& ctx, const std::string& sni,
                                                                 tls::session_slot* slot) {
    co_return co_await stream_->handshake_client(ctx, sni, slot);
}

piece data_channel::sendfile_trip::operator()() const {
    off_t off = static_cast<off_t>(offset);
    piece r;
    while (r.bytes < n) {
        const ssize_t sent = ::sendfile(sock, fd, &off, static_cast<std::size_t>(n - r.bytes));
        if (sent > 0) {
            r.bytes += static_cast<std::size_t>(sent);
            continue;
        }
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0 && r.bytes == 0) r.ec = {errno, std::system_category()};
        break;  // EAGAIN after some bytes, or the file ended early (0)
    }
    return r;
}

asio::awaitable<std::error_code> data_channel::wait_writable() {
    auto [ec] = co_await stream_->socket().async_wait(tcp::socket::wait_write,
                                                      asio::experimental::as_tuple(asio::use_awaitable));
    co_return ec;
}

void data_channel::limit_unsent() {
    ::setsockopt(stream_->socket().native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &unsent_limit,
                 sizeof unsent_limit);
}

void data_channel::quick_ack() {
    int one = 1;
    ::setsockopt(stream_->socket().native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}


asio::awaitable<void> data_channel::finish_upload(std::chrono::seconds limit) {
    {
        deadline d(stream_->socket(), limit);
        co_await stream_->send_close_notify();
        std::error_code ec;
        stream_->socket().shutdown(tcp::socket::shutdown_send, ec);
        char sink[4096];
        for (int i = 0; i < 64 && !ec; ++i) co_await stream_->read_some(sink, sizeof sink, ec);
    }
    stream_->close();
}

asio::awaitable<void> data_channel::finish_download(std::chrono::seconds limit) {
    if (stream_->secure()) {
        deadline d(stream_->socket(), limit);
        co_await stream_->end_tls(false);
    }
    stream_->close();
}

void data_channel::pace(std::uint64_t bytes_per_second) {
    if (bytes_per_second == 0)
        pacer_.reset();
    else
        pacer_.emplace(bytes_per_second);
}

asio::awaitable<void> data_channel::keep_pace(std::size_t n) {
    const auto wait = pacer_->after(n);
    if (wait <= pacer::clock::duration::zero() || aborted_) co_return;
    if (!pace_timer_) pace_timer_ = std::make_unique<asio::steady_timer>(stream_->socket().get_executor());
    pace_timer_->expires_after(wait);
    std::error_code ig;  // cancelled by abort(): the loop then sees aborted_
    co_await pace_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ig));
}

void data_channel::abort() {
    aborted_ = true;
    if (pace_timer_) pace_timer_->cancel();
    std::error_code ig;
    stream_->socket().cancel(ig);
}

void data_channel::reset() {
    std::error_code ig;
    stream_->socket().set_option(tcp::socket::linger(true, 0), ig);
    stream_->close();
}

}  // namespace ferry::net
