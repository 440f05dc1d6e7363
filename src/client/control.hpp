#pragma once
// The client's control connection: one TCP connection carrying commands and replies, plain or
// TLS (AUTH TLS, implicit TLS), and plain again after CCC. Frames reply lines with
// proto::line_reader and multi-line replies with proto::reply_parser. Every wait is bounded.
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "client/error.hpp"
#include "proto/line_reader.hpp"
#include "proto/reply.hpp"
#include "tls/client_context.hpp"
#include "tls/stream.hpp"

namespace ferry::client {

class control_connection {
public:
    using trace_fn = std::function<void(std::string_view)>;

    explicit control_connection(asio::any_io_executor ex) : ex_(std::move(ex)) {}

    void set_trace(trace_fn f) { trace_ = std::move(f); }
    void set_reply_timeout(unsigned seconds) { reply_timeout_ = seconds; }

    // Resolves host and connects to the first address that answers, within timeout seconds.
    asio::awaitable<outcome> connect(const std::string& host, std::uint16_t port, unsigned timeout);
    // TLS client handshake on the connection (after 234, or at once for implicit TLS).
    // Bytes received in clear before the handshake are thrown away.
    // resume_from: a slot whose session the handshake offers (session::resume_control_from).
    asio::awaitable<outcome> start_tls(const tls::client_context& ctx, const std::string& sni, unsigned timeout,
                                       tls::session_slot* resume_from = nullptr);
    // CCC after its 200 reply: notify = exchange close_notify (RFC 4217), else drop TLS silently.
    asio::awaitable<outcome> end_tls(bool notify, unsigned timeout);

    asio::awaitable<outcome> read_reply(proto::reply& r);
    asio::awaitable<outcome> read_reply(proto::reply& r, unsigned timeout);
    // Sends one command line (CR LF added). The trace shows PASS and ACCT arguments as ****.
    // SECURITY: a CR or LF inside line (a file name from a listing, a user's argument) would end
    // the command early and smuggle a second one; such lines are refused.
    asio::awaitable<outcome> send(std::string_view line);
    // send + read_reply
    asio::awaitable<outcome> command(std::string_view line, proto::reply& r);

    bool is_open() const { return stream_ && stream_->socket().is_open(); }
    bool secure() const { return stream_ && stream_->secure(); }
    tls::stream& stream() { return *stream_; }
    const asio::ip::tcp::endpoint& peer() const { return peer_; }
    const asio::ip::tcp::endpoint& local() const { return local_; }
    // Replies already received but not yet read (a server that answers ahead).
    bool has_buffered_input() const { return reader_.buffered() > 0; }
    void close();

    void note(std::string_view text) {
        if (trace_) trace_(text);
    }

private:
    asio::any_io_executor ex_;
    std::unique_ptr<tls::stream> stream_;
    asio::ip::tcp::endpoint peer_, local_;
    // Replies may carry long paths or FEAT lists; still bounded against a hostile server.
    proto::line_reader reader_{64 * 1024};
    proto::reply_parser parser_;
    trace_fn trace_;
    unsigned reply_timeout_ = 120;
};

}  // namespace ferry::client
