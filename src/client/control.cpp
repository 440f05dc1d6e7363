#include "client/control.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

#include "net/deadline.hpp"
#include "proto/command.hpp"

namespace ferry::client {

using asio::ip::tcp;
namespace {
constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t max_reply_lines = 100000;
// A hostile server cannot make us buffer more than this for one reply (a FEAT, STAT or HELP is
// a few KiB).
constexpr std::size_t max_reply_bytes = 1 << 20;
}  // namespace

asio::awaitable<outcome> control_connection::connect(const std::string& host, std::uint16_t port, unsigned timeout) {
    close();
    tcp::resolver resolver(ex_);
    auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), tuple_awaitable);
    if (rec) co_return outcome::fail(errc::connect_failed, "cannot resolve '" + host + "': " + rec.message());
    std::string last = "no address";
    for (const auto& entry : results) {
        tcp::socket s(ex_);
        std::error_code ec;
        bool timed_out = false;
        {
            net::deadline d(s, std::chrono::seconds(timeout));
            s.open(entry.endpoint().protocol(), ec);
            if (!ec) {
                auto [cec] = co_await s.async_connect(entry.endpoint(), tuple_awaitable);
                ec = cec;
            }
            timed_out = d.fired();
        }
        std::string where = entry.endpoint().address().to_string() + " port " + std::to_string(port);
        if (timed_out) {
            last = "connecting to " + where + " timed out after " + std::to_string(timeout) + " s";
            continue;
        }
        if (ec) {
            last = "cannot connect to " + where + ": " + ec.message();
            continue;
        }
        s.set_option(tcp::no_delay(true), ec);
        peer_ = s.remote_endpoint(ec);
        local_ = s.local_endpoint(ec);
        stream_ = std::make_unique<tls::stream>(std::move(s));
        reader_ = proto::line_reader(64 * 1024);
        parser_ = proto::reply_parser();
        note("--- connected to " + where);
        co_return outcome::ok();
    }
    co_return outcome::fail(errc::connect_failed, last);
}

asio::awaitable<outcome> control_connection::start_tls(const tls::client_context& ctx, const std::string& sni,
                                                      unsigned timeout, tls::session_slot* resume_from) {
    if (!is_open()) co_return outcome::fail(errc::not_connected, "not connected");
    // SECURITY: STARTTLS injection: whatever arrived in clear after 234 was not protected and may
    // come from an attacker; it must not be read later as if it had come over TLS.
    if (reader_.buffered()) {
        note("--- discarding " + std::to_string(reader_.buffered()) + " bytes received in clear before the TLS handshake");
        reader_.discard_buffered();
    }
    std::error_code ec;
    bool timed_out;
    {
        net::deadline d(stream_->socket(), std::chrono::seconds(timeout));
        ec = co_await stream_->handshake_client(ctx, sni, resume_from);
        timed_out = d.fired();
    }
    if (timed_out) co_return outcome::fail(errc::tls_failed, "the TLS handshake timed out after " + std::to_string(timeout) + " s");
    if (ec) {
        std::string why = stream_->last_error().empty() ? ec.message() : stream_->last_error();
        co_return outcome::fail(errc::tls_failed, "TLS handshake with the server failed: " + why);
    }
    co_return outcome::ok();
}

asio::awaitable<outcome> control_connection::end_tls(bool notify, unsigned timeout) {
    if (!secure()) co_return outcome::ok();
    if (!notify) {
        stream_->drop_tls();
        co_return outcome::ok();
    }
    std::error_code ec;
    bool timed_out;
    {
        net::deadline d(stream_->socket(), std::chrono::seconds(timeout));
        ec = co_await stream_->end_tls(true);
        timed_out = d.fired();
    }
    if (timed_out)
        co_return outcome::fail(errc::timeout, "the server did not answer our TLS close_notify after CCC within " +
                                                   std::to_string(timeout) + " s (does it use TLSRFCLEVEL CCCNONOTIFY?)");
    if (ec) co_return outcome::fail(errc::tls_failed, "ending TLS after CCC failed: " + ec.message());
    co_return outcome::ok();
}

asio::awaitable<outcome> control_connection::read_reply(proto::reply& r) { co_return co_await read_reply(r, reply_timeout_); }

asio::awaitable<outcome> control_connection::read_reply(proto::reply& r, unsigned timeout) {
    if (!is_open()) co_return outcome::fail(errc::not_connected, "not connected");
    std::size_t lines = 0, bytes = 0;
    std::string line;
    char buf[16 * 1024];
    for (;;) {
        auto st = reader_.next(line);
        if (st == proto::line_reader::status::too_long)
            co_return outcome::fail(errc::protocol_error, "the server sent a reply line longer than 64 KiB");
        if (st == proto::line_reader::status::line) {
            note("<<< " + line);
            auto ps = parser_.feed_line(line);
            if (ps == proto::reply_parser::status::bad) {
                close();
                co_return outcome::fail(errc::protocol_error, "the server sent something that is not an FTP reply: '" +
                                                                  line.substr(0, 200) + "'");
            }
            if (ps == proto::reply_parser::status::done) {
                r = parser_.take();
                co_return outcome::ok();
            }
            bytes += line.size() + 2;
            if (++lines > max_reply_lines || bytes > max_reply_bytes) {
                close();
                co_return outcome::fail(errc::protocol_error, "the server's reply is longer than 1 MiB; connection closed");
            }
            continue;
        }
        std::error_code ec;
        std::size_t n;
        bool timed_out;
        {
            net::deadline d(stream_->socket(), std::chrono::seconds(timeout));
            n = co_await stream_->read_some(buf, sizeof buf, ec);
            timed_out = d.fired();
        }
        if (timed_out) {
            close();
            co_return outcome::fail(errc::timeout, "no reply from the server within " + std::to_string(timeout) +
                                                       " s (INACTTIME); connection closed");
        }
        if (ec) {
            std::string why = ec == asio::error::eof ? "the server closed the connection"
                                                     : "the control connection failed: " +
                                                           (stream_->last_error().empty() ? ec.message() : stream_->last_error());
            if (why.find("certificate required") != std::string::npos)
                why += " (the server requires a client certificate: --cert FILE [--key FILE])";
            close();
            co_return outcome::fail(errc::connection_closed, why);
        }
        reader_.feed(std::string_view(buf, n));
    }
}

asio::awaitable<outcome> control_connection::send(std::string_view line) {
    if (!is_open()) co_return outcome::fail(errc::not_connected, "not connected");
    if (line.find_first_of("\r\n") != std::string_view::npos || line.find('\0') != std::string_view::npos)
        co_return outcome::fail(errc::protocol_error, "refusing to send a command with a line break or NUL in it");
    proto::command cmd;
    if (proto::parse_command(line, cmd) && (cmd.verb == "PASS" || cmd.verb == "ACCT"))
        note(">>> " + cmd.verb + " ****");
    else
        note(">>> " + std::string(line));
    std::string wire(line);
    wire += "\r\n";
    std::error_code ec;
    bool timed_out;
    {
        net::deadline d(stream_->socket(), std::chrono::seconds(reply_timeout_));
        ec = co_await stream_->write_all(wire.data(), wire.size());
        timed_out = d.fired();
    }
    if (timed_out || ec) {
        close();
        co_return outcome::fail(errc::connection_closed,
                                timed_out ? "sending to the server timed out" : "cannot send to the server: " + ec.message());
    }
    co_return outcome::ok();
}

asio::awaitable<outcome> control_connection::command(std::string_view line, proto::reply& r) {
    if (auto o = co_await send(line); !o) co_return o;
    co_return co_await read_reply(r);
}

void control_connection::close() {
    if (stream_) stream_->close();
}

}  // namespace ferry::client
