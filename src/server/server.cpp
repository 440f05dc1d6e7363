#include "server/server.hpp"

#include <sys/stat.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <asio/use_awaitable.hpp>

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <optional>

#include "net/address_policy.hpp"
#include "net/listen.hpp"
#include "net/priority_loop.hpp"
#include "net/proxy_protocol.hpp"
#include "net/transfer_buffer.hpp"
#include "server/session.hpp"

namespace ferry::server {

using asio::ip::tcp;

namespace {
// METRICS as the log names it: "address port", or "(off)".
std::string metrics_text(const std::optional<config::listen_address>& m) {
    return m ? m->host + " " + std::to_string(m->port) : std::string("(off)");
}
std::string endpoint_text(const tcp::endpoint& e) { return e.address().to_string() + ":" + std::to_string(e.port()); }
}  // namespace

long raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > static_cast<rlim_t>(INT_MAX) ? INT_MAX
                                                                                      : static_cast<long>(rl.rlim_cur);
}

server::server(std::shared_ptr<const server_context> ctx, unsigned threads) : ctx_(std::move(ctx)) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < threads; ++i) workers_.push_back(std::make_unique<asio::io_context>(1));
}

server::~server() {
    stop();
    if (spare_fd_ >= 0) ::close(spare_fd_);
}

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
        if ((ec = net::listen_on(l->acceptor, ep))) {
            error = net::listen_failure(host, port, implicit ? "TLSPORT" : "", ec);
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
    // Bound here with the others, before privileges are dropped (a port below 1024 works).
    metrics_at_start_ = metrics_text(s.metrics);
    if (s.metrics) {
        metrics_ = metrics_endpoint::open(accept_ctx_, *s.metrics, ctx_->shared, ctx_->log, error);
        if (!metrics_) return false;
    }
    fd_limit_ = raise_descriptor_limit();
    // A tenth of the table, within 16..1024: room for running sessions' data connections, files
    // and listeners when new control connections are refused.
    fd_reserve_ = std::clamp(fd_limit_ / 10, 16L, 1024L);
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (ctx_->log)
        ctx_->log->info("descriptor limit {}; new connections are refused with {} left", fd_limit_, fd_reserve_);
    for (auto& l : listeners_) asio::co_spawn(accept_ctx_, accept_loop(*l), asio::detached);
    if (metrics_) {
        // Served on this (the accept) thread: a scrape never waits behind a session's work, and
        // rendering takes microseconds, so it delays no accept either.
        metrics_->start();
        const auto ep = metrics_->local_endpoint();
        const auto host = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
        if (ctx_->log) ctx_->log->info("METRICS: Prometheus metrics at http://{}:{}/metrics", host, ep.port());
    }
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
        auto [ec, accepted] = co_await l.acceptor.async_accept(worker, asio::experimental::as_tuple(asio::use_awaitable));
        tcp::socket sock(std::move(accepted));
        // Taken for each connection: SIGHUP may have replaced the context meanwhile.
        const std::shared_ptr<const server_context> ctx = ctx_;
        const auto& cfg = ctx->settings;
        if (ec) {
            if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) co_return;
            if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
                refuse_without_descriptors(l);
            } else {
                std::size_t held = 0;
                if (ctx_->warnings.allow("accept", held))
                    ctx_->log->warn("accept failed: {}{}", ec.message(),
                                    held ? fmt::format(" ({} more since the last warning)", held) : "");
            }
            // Back off briefly instead of spinning.
            asio::steady_timer t(accept_ctx_, std::chrono::milliseconds(ec == asio::error::no_descriptors ? 10 : 100));
            co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
            continue;
        }
        std::error_code pe;
        const auto socket_peer = sock.remote_endpoint(pe);
        if (pe) {  // reset while it waited in the backlog (a balancer's health check does that)
            sock.close(pe);
            continue;
        }
        const tcp::endpoint peer(net::unmapped(socket_peer.address()), socket_peer.port());
        if (!cfg.proxy_from.empty()) {
            // SECURITY: behind a balancer (PROXYPROTOCOL) only the balancer may connect, and the
            // client is the one its header names; nobody else gets as much as a reply.
            if (!net::trusted_balancer(peer.address(), cfg.proxy_from)) {
                refuse_silently(sock, *ctx, "proxy-untrusted", endpoint_text(peer) + ": not from a balancer (PROXYPROTOCOL FROM)");
                continue;
            }
            // Read on the session's thread: a balancer slow to send its header holds up no accept.
            asio::co_spawn(worker, admit_relayed(std::move(sock), l.implicit_tls, ctx, peer), asio::detached);
            continue;
        }
        admit(std::move(sock), l.implicit_tls, ctx, peer, {});
    }
}

asio::awaitable<void> server::admit_relayed(tcp::socket sock, bool implicit_tls, std::shared_ptr<const server_context> ctx,
                                            tcp::endpoint balancer) {
    net::proxied_peer relayed;
    std::string why;
    const auto ec = co_await net::receive_proxy_header(sock, net::proxy_header_timeout, relayed, why);
    if (ec) {
        // A health check may connect and close without a word: that is no one to warn about.
        if (ec == asio::error::eof && why.find("before") != std::string::npos) {
            std::error_code ig;
            sock.close(ig);
        } else {
            refuse_silently(sock, *ctx, "proxy-header", endpoint_text(balancer) + ": " + why);
        }
        co_return;
    }
    if (stopping_.load()) {  // SIGTERM came while the header was on its way
        std::error_code ig;
        sock.close(ig);
        co_return;
    }
    if (!relayed.relayed) {
        // LOCAL: the balancer's own connection, i.e. its health check. It learns the node is up
        // from the greeting; it is no client, so it takes no session and no place in the limits.
        if (!implicit_tls) {
            static constexpr std::string_view up = "220 Ferry FTPS server ready.\r\n";
            (void)::send(sock.native_handle(), up.data(), up.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        std::error_code ig;
        sock.close(ig);
        co_return;
    }
    admit(std::move(sock), implicit_tls, ctx, relayed.client, balancer);
}

void server::admit(tcp::socket sock, bool implicit_tls, const std::shared_ptr<const server_context>& ctx,
                   const tcp::endpoint& client, std::optional<tcp::endpoint> balancer) {
    const auto& cfg = ctx->settings;
    const std::string host = net::host_key(client.address());
    const std::string peer_text = endpoint_text(client) + (balancer ? " via " + balancer->address().to_string() : "");
    // SECURITY: descriptor exhaustion: past the reserve, new connections are refused so that
    // running sessions can still open their data connections and files.
    if (fd_limit_ > 0 && sock.native_handle() >= fd_limit_ - fd_reserve_) {
        refuse(sock, *ctx, implicit_tls, "descriptors", "Server busy: too many open connections; try again later.",
               peer_text);
        return;
    }
    // SECURITY: password guessing across connections (LOGINATTEMPTS).
    const auto left = ctx->logins.refused_for(host, std::chrono::steady_clock::now(), cfg.login_attempts,
                                              std::chrono::seconds(cfg.login_attempts_seconds));
    if (left.count() > 0) {
        refuse(sock, *ctx, implicit_tls, "loginattempts",
               "Too many failed logins from your address; try again in " +
                   std::to_string(std::chrono::ceil<std::chrono::seconds>(left).count()) + " s.",
               peer_text);
        return;
    }
    std::string why;
    session_slot slot = ctx->limits.admit(host, cfg.max_sessions, cfg.max_sessions_per_host, why);
    if (!slot.valid()) {
        refuse(sock, *ctx, implicit_tls, "maxsessions", why, peer_text);
        return;
    }
    const auto executor = sock.get_executor();
    std::unique_ptr<tcp_control_link> link;
    if (balancer) {
        link = std::make_unique<tcp_control_link>(std::move(sock), cfg.keepalive_seconds, client, &cfg.proxy_from);
        link->set_via(balancer->address().to_string());
    } else {
        link = std::make_unique<tcp_control_link>(std::move(sock), cfg.keepalive_seconds);
    }
    auto s = std::make_shared<session>(ctx, std::move(link), implicit_tls, next_id_++, std::move(slot),
                                       *pools_);
    // The session owns itself through its pending handlers (no wrapper coroutine: its frame
    // would be one more allocation held by every idle session).
    s->start([](std::exception_ptr e) {
        // A broken invariant ends the session, never the daemon.
        if (e) try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("session ended by an internal error: {}", ex.what());
            }
    });
}

void server::refuse_silently(tcp::socket& sock, const server_context& ctx, const std::string& kind,
                             const std::string& why) {
    metrics::add(ctx.shared->counters.connections_refused[3]);
    std::error_code ig;
    sock.close(ig);
    std::size_t held = 0;
    if (ctx.warnings.allow(kind, held))
        ctx.log->warn("refused {}{}", why,
                      held ? fmt::format(" ({} more refused for this reason since the last warning)", held) : "");
}

void server::refuse(tcp::socket& sock, const server_context& ctx, bool implicit_tls, const std::string& kind,
                    const std::string& why, const std::string& peer) {
    metrics::add(ctx.shared->counters.connections_refused[kind == "descriptors" ? 0 : kind == "loginattempts" ? 1 : 2]);
    if (!implicit_tls) {
        // A fresh connection's send buffer is empty: this never blocks and is never partial.
        const std::string line = "421 " + why + "\r\n";
        (void)::send(sock.native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    std::error_code ig;
    sock.close(ig);
    std::size_t held = 0;
    if (ctx.warnings.allow(kind, held))
        ctx.log->warn("refused {}: {}{}", peer, why,
                        held ? fmt::format(" ({} more refused for this reason since the last warning)", held) : "");
}

void server::refuse_without_descriptors(listener& l) {
    if (spare_fd_ < 0) {
        std::size_t held = 0;
        if (ctx_->warnings.allow("descriptors", held))
            ctx_->log->warn("out of file descriptors: new connections wait ({} warnings held back)", held);
        return;
    }
    ::close(spare_fd_);
    spare_fd_ = -1;
    std::error_code ec;
    l.acceptor.non_blocking(true, ec);
    tcp::socket sock(accept_ctx_);
    l.acceptor.accept(sock, ec);
    if (!ec) {
        std::error_code pe;
        auto ep = sock.remote_endpoint(pe);
        refuse(sock, *ctx_, l.implicit_tls, "descriptors", "Server busy: out of file descriptors; try again later.",
               endpoint_text(tcp::endpoint(net::unmapped(ep.address()), ep.port())));
    }
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void server::run(bool handle_signals) {
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& w : workers_) guards.push_back(asio::make_work_guard(*w));
    // Threads start here, not at construction: the sandbox (Landlock, capabilities) is applied
    // between start() and run() and reaches only threads created after it.
    // As many hashing threads as cores (a login flood then uses the CPU, niced below the event
    // threads, not their time); a few more for the disk, whose jobs mostly wait: two for the
    // file-system calls of commands and two for the bytes of transfers (worker_pools). With 1,000
    // busy sessions, 2 + 2 had a lower p99 per file than one pool of 4, and the same MB/s; 4 + 4
    // took 5-12% off the MB/s (bench/: busy sessions). The disk and transfer pools run at the
    // event threads' priority: every job there is a step some session waits for, and niced
    // below a saturated CPU each step waited its turn behind the load (4 KiB p99 with 1,000 busy
    // sessions 2,181 and 2,123 -> 1,684 and 1,883 ms in two A/B rounds, before priority_loop).
    const auto cores = static_cast<unsigned>(workers_.size());
    hash_pool_ = std::make_unique<work_pool>("ferryd-hash", std::min(cores, 8u), 10);
    disk_pool_ = std::make_unique<work_pool>("ferryd-disk", 2, 0);
    bulk_pool_ = std::make_unique<work_pool>("ferryd-bulk", 2, 0);
    // File digests read whole files: two at a time keeps HASH from taking the disk or the CPU.
    digest_pool_ = std::make_unique<work_pool>("ferryd-digest", 2, 10);
    pools_.emplace(worker_pools{*hash_pool_, *disk_pool_, *bulk_pool_, *digest_pool_});
    for (auto& w : workers_)
        threads_.emplace_back([&w] {
            net::priority_loop loop(*w);  // a transfer's pieces after commands and handshakes
            loop.run();
        });
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
                reload();
                signals->async_wait(handler(on_signal));
                return;
            }
            if (shut_down(sig)) signals->async_wait(handler(on_signal));  // a second one stops at once
        };
        signals->async_wait(handler(on_signal));
    }
    asio::co_spawn(accept_ctx_, give_back_free_heap(), asio::detached);
    accept_ctx_.run();
    guards.clear();
    for (auto& w : workers_) w->stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    hash_pool_->stop();
    disk_pool_->stop();
    bulk_pool_->stop();
    digest_pool_->stop();
}

void server::reload() {
    if (!ctx_->reload) {
        reload_tls();
        return;
    }
    std::string error;
    auto next = ctx_->reload(*ctx_, error);
    if (!next) {
        ctx_->log->error("SIGHUP: configuration not reloaded, keeping the current one: {}", error);
        if (auto t = ctx_->current_tls())
            ctx_->log->warn("SIGHUP: TLS not reloaded, keeping the current certificate {}", t->fingerprint());
        return;
    }
    next->log = ctx_->log;
    // The endpoint was bound at start (maybe to a port only root may bind): it stays.
    if (const auto now = metrics_text(next->settings.metrics); now != metrics_at_start_)
        ctx_->log->warn("SIGHUP: METRICS changed to {}: kept as at start ({}) until ferryd restarts", now,
                        metrics_at_start_);
    ctx_ = std::move(next);
    ctx_->log->info("SIGHUP: configuration reloaded: {} user(s); new sessions use it, running sessions keep theirs",
                    ctx_->users.size());
    if (auto t = ctx_->current_tls()) ctx_->log->info("SIGHUP: TLS reloaded; certificate {} for new sessions", t->fingerprint());
}

bool server::shut_down(int sig) {
    if (stopping_) {
        ctx_->log->info("signal {} again: stopping now", sig);
        stop();
        return false;
    }
    stopping_.store(true);
    // New connections are refused at once (the listeners close); running transfers get the grace.
    // METRICS stays open until stop(): a scrape can watch the transfers drain.
    for (auto& l : listeners_) {
        std::error_code ec;
        l->acceptor.close(ec);
    }
    const unsigned grace = ctx_->settings.shutdown_grace_seconds;
    const unsigned running = ctx_->shared->transfers.load();
    if (grace == 0 || running == 0) {
        ctx_->log->info("signal {}: stopping", sig);
        stop();
        return false;
    }
    ctx_->log->info("signal {}: stopping: new connections refused; waiting up to {} s for {} running transfer(s) "
                    "(SHUTDOWNGRACE)",
                    sig, grace, running);
    asio::co_spawn(accept_ctx_, finish_transfers(std::chrono::steady_clock::now() + std::chrono::seconds(grace)),
                   asio::detached);
    return true;
}

asio::awaitable<void> server::finish_transfers(std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer t(accept_ctx_);
    while (ctx_->shared->transfers.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        t.expires_after(std::chrono::milliseconds(20));
        auto [ec] = co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
    if (unsigned left = ctx_->shared->transfers.load())
        ctx_->log->warn("SHUTDOWNGRACE over: stopping {} unfinished transfer(s)", left);
    else
        ctx_->log->info("running transfers finished: stopping");
    stop();
}

asio::awaitable<void> server::give_back_free_heap() {
    const server_shared& shared = *ctx_->shared;
    asio::steady_timer t(accept_ctx_);
    std::uint64_t seen = shared.transfers_begun.load();
    std::uint64_t trimmed = seen;
    for (;;) {
        t.expires_after(std::chrono::seconds(1));
        auto [ec] = co_await t.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        const std::uint64_t begun = shared.transfers_begun.load();
        // Quiet: none started during the last second, none still running, and some since the
        // last trim (an idle server trims once, not every second).
        if (begun == seen && begun != trimmed && shared.transfers.load() == 0) {
            net::transfer_buffer::release_spares();
#ifdef __GLIBC__
            ::malloc_trim(0);
#endif
            trimmed = begun;
        }
        seen = begun;
    }
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
        if (metrics_) metrics_->close();
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
