#include "server/metrics_endpoint.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <spdlog/spdlog.h>

#include <exception>

#include "net/deadline.hpp"
#include "net/listen.hpp"
#include "server/metrics_request.hpp"

namespace ferry::server {

using asio::ip::tcp;

namespace {
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

std::shared_ptr<metrics_endpoint> metrics_endpoint::open(asio::io_context& io, const config::listen_address& at,
                                                         std::shared_ptr<server_shared> shared,
                                                         std::shared_ptr<spdlog::logger> log, std::string& error) {
    std::error_code ec;
    const tcp::endpoint ep(asio::ip::make_address(at.host, ec), at.port);
    if (ec) {
        error = "bad METRICS address " + at.host + ": " + ec.message();
        return nullptr;
    }
    auto e = std::make_shared<metrics_endpoint>(io, std::move(shared), std::move(log));
    if ((ec = net::listen_on(e->acceptor_, ep))) {
        error = net::listen_failure(at.host, at.port, "METRICS", ec);
        return nullptr;
    }
    return e;
}

void metrics_endpoint::start() {
    // The completion handler keeps the endpoint alive as long as the loop's frame exists.
    asio::co_spawn(acceptor_.get_executor(), accept_loop(), [self = shared_from_this()](std::exception_ptr e) {
        if (e && self->log_) self->log_->error("METRICS: the endpoint stopped after an internal error");
    });
}

void metrics_endpoint::close() {
    std::error_code ignored;
    acceptor_.close(ignored);
}

tcp::endpoint metrics_endpoint::local_endpoint() const {
    std::error_code ignored;
    return acceptor_.local_endpoint(ignored);
}

std::string metrics_endpoint::render() const {
    auto& m = shared_->counters;
    // The one gauge read rather than counted: exact whatever path closed a listener.
    m.passive_ports_in_use.store(static_cast<std::int64_t>(shared_->limits.passive_in_use()),
                                 std::memory_order_relaxed);
    return format_metrics(m);
}

asio::awaitable<void> metrics_endpoint::accept_loop() {
    for (;;) {
        auto [ec, sock] = co_await acceptor_.async_accept(as_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
            std::size_t held = 0;
            if (log_ && shared_->warnings.allow("metrics accept", held))
                log_->warn("METRICS: accept failed: {} ({} more since the last warning)", ec.message(), held);
            // Out of descriptors and the like: back off instead of spinning.
            asio::steady_timer t(acceptor_.get_executor(), std::chrono::milliseconds(100));
            co_await t.async_wait(as_tuple);
            continue;
        }
        // SECURITY: resource exhaustion: past max_connections a connection is closed at once,
        // unread, so that scrapers (or a flood) never hold more than that many descriptors.
        if (open_ >= max_connections) {
            std::error_code ignored;
            sock.close(ignored);
            std::size_t held = 0;
            if (log_ && shared_->warnings.allow("metrics busy", held))
                log_->warn("METRICS: {} connections open already: closed a new one ({} more since the last warning)",
                           max_connections, held);
            continue;
        }
        ++open_;
        asio::co_spawn(acceptor_.get_executor(), serve(std::move(sock)),
                       [self = shared_from_this()](std::exception_ptr e) {
                           --self->open_;
                           // A broken request ends its connection, never ferryd.
                           if (e && self->log_) try {
                                   std::rethrow_exception(e);
                               } catch (const std::exception& ex) {
                                   self->log_->error("METRICS: request ended by an internal error: {}", ex.what());
                               } catch (...) {
                                   self->log_->error("METRICS: request ended by an internal error");
                               }
                       });
    }
}

asio::awaitable<void> metrics_endpoint::serve(tcp::socket sock) {
    // SECURITY: slow clients (slowloris): the whole connection (the request, the answer and the
    // wait for the client's close) ends after connection_deadline, whatever the client does.
    net::deadline limit(sock.get_executor(), connection_deadline, [&sock] {
        std::error_code ignored;
        sock.close(ignored);
    });
    // One byte more than a head may have: reading it proves the head too long (431).
    std::string buf(max_request_head + 1, '\0');
    std::size_t have = 0;
    std::size_t end = std::string_view::npos;
    while ((end = request_head_end({buf.data(), have})) == std::string_view::npos && have < buf.size()) {
        auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf.data() + have, buf.size() - have), as_tuple);
        if (ec) break;
        have += n;
    }
    // The deadline closed the socket, or the client left without a word: nobody to answer.
    if (limit.fired() || have == 0) co_return;

    const auto request = parse_metrics_request({buf.data(), end == std::string_view::npos ? have : end});
    const std::string response = format_metrics_response(request, request.status == 200 ? render() : std::string());
    auto [wec, written] = co_await asio::async_write(sock, asio::buffer(response), as_tuple);
    if (wec) co_return;
    // Our FIN, then read to the client's: closing with bytes of its unread (a body, a second
    // request) would send a reset, which can destroy the answer before the client has read it.
    std::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_send, ignored);
    char sink[1024];
    for (std::size_t drained = 0; drained < 64 * 1024;) {
        auto [rec, n] = co_await sock.async_read_some(asio::buffer(sink), as_tuple);
        if (rec) break;
        drained += n;
    }
}

}  // namespace ferry::server
