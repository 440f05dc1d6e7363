#include "server/server.hpp"

#include <sys/stat.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <asio/use_awaitable.hpp>

#include "server/session.hpp"

namespace ferry::server {

using asio::ip::tcp;

server::server(std::shared_ptr<const server_context> ctx, unsigned threads) : ctx_(std::move(ctx)) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < threads; ++i) workers_.push_back(std::make_unique<asio::io_context>(1));
}

server::~server() { stop(); }

bool server::start(std::string& error) {
    const auto& s = ctx_->settings;
    // Files and folders that clients create get 0666 / 0777 less UMASK (vfs creates with those).
    ::umask(static_cast<mode_t>(s.umask));
    std::vector<config::listen_address> explicit_ = s.listen;
    if (explicit_.empty()) explicit_.push_back({"0.0.0.0", 21});
    auto add = [&](const std::string& host, std::uint16_t port, bool implicit) {
        std::error_code ec;
        tcp::endpoint ep(asio::ip::make_address(host, ec), port);
        if (ec) {
            error = "bad listen address " + host + ": " + ec.message();
            return false;
        }
        auto l = std::make_unique<listener>(listener{tcp::acceptor(accept_ctx_), implicit});
        l->acceptor.open(ep.protocol(), ec);
        if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && ep.address().is_v6()) l->acceptor.set_option(asio::ip::v6_only(false), ec);
        if (!ec) l->acceptor.bind(ep, ec);
        if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            error = "cannot listen on " + host + " port " + std::to_string(port) + (implicit ? " (TLSPORT)" : "") +
                    ": " + ec.message() + (port < 1024 && ec == asio::error::access_denied
                                               ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                                               : "");
            return false;
        }
        listeners_.push_back(std::move(l));
        return true;
    };
    for (const auto& l : explicit_)
        if (!add(l.host, l.port, false)) return false;
    if (ctx_->current_tls() && s.tls_port != 0) {
        // The implicit port listens on the same addresses as the explicit ones.
        for (const auto& l : explicit_)
            if (!add(l.host, s.tls_port, true)) return false;
    }
    for (auto& l : listeners_) asio::co_spawn(accept_ctx_, accept_loop(*l), asio::detached);
    return true;
}

asio::io_context& server::next_worker() {
    auto& w = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    return w;
}

asio::awaitable<void> server::accept_loop(listener& l) {
    for (;;) {
        asio::io_context& worker = next_worker();
        auto [ec, sock] = co_await l.acceptor.async_accept(worker, asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) co_return;
            ctx_->log->warn("accept failed: {}", ec.message());
            // Out of descriptors: back off briefly instead of spinning.
            asio::steady_timer t(accept_ctx_, std::chrono::milliseconds(100));
            co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
            continue;
        }
        auto s = std::make_shared<session>(ctx_, std::move(sock), l.implicit_tls, next_id_++);
        // The completion handler owns the session until run() ends (no wrapper coroutine: its
        // frame would be one more allocation held by every idle session).
        asio::co_spawn(worker, s->run(), [s](std::exception_ptr e) {
            // A broken invariant ends the session, never the daemon.
            if (e) try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    spdlog::error("session ended by an internal error: {}", ex.what());
                }
        });
    }
}

void server::run(bool handle_signals) {
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& w : workers_) guards.push_back(asio::make_work_guard(*w));
    for (auto& w : workers_) threads_.emplace_back([&w] { w->run(); });
    std::unique_ptr<asio::signal_set> signals;
    // on_signal re-arms the wait with a copy of itself, so it must outlive accept_ctx_.run()
    // (it used to die with the if block: the second signal crashed ferryd), and Asio moves
    // from the handler it is given, even an lvalue: pass it copies.
    using handler = std::function<void(const std::error_code&, int)>;
    handler on_signal;
    if (handle_signals) {
        signals = std::make_unique<asio::signal_set>(accept_ctx_, SIGINT, SIGTERM, SIGHUP);
        on_signal = [this, &signals, &on_signal](const std::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                reload_tls();
                signals->async_wait(handler(on_signal));
                return;
            }
            ctx_->log->info("signal {}: stopping", sig);
            stop();
        };
        signals->async_wait(handler(on_signal));
    }
    accept_ctx_.run();
    guards.clear();
    for (auto& w : workers_) w->stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

void server::reload_tls() {
    if (!ctx_->make_tls) return;
    std::string error;
    auto t = ctx_->make_tls(error);
    if (!t) {
        ctx_->log->error("SIGHUP: TLS not reloaded, keeping the current certificate: {}", error);
        return;
    }
    ctx_->set_tls(t);
    ctx_->log->info("SIGHUP: TLS reloaded; certificate {} for new sessions", t->fingerprint());
}

void server::stop() {
    asio::post(accept_ctx_, [this] {
        for (auto& l : listeners_) {
            std::error_code ec;
            l->acceptor.close(ec);
        }
        accept_ctx_.stop();
    });
}

std::vector<tcp::endpoint> server::explicit_endpoints() const {
    std::vector<tcp::endpoint> out;
    for (const auto& l : listeners_)
        if (!l->implicit_tls) out.push_back(l->acceptor.local_endpoint());
    return out;
}

std::vector<tcp::endpoint> server::implicit_endpoints() const {
    std::vector<tcp::endpoint> out;
    for (const auto& l : listeners_)
        if (l->implicit_tls) out.push_back(l->acceptor.local_endpoint());
    return out;
}

}  // namespace ferry::server
