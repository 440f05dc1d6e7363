#include "server/session.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <utility>


#include "net/address_policy.hpp"
#include "proto/command.hpp"
#include "proto/reply.hpp"
#include "proto/printable.hpp"
#include "proto/reply_code.hpp"
#include "server/command_table.hpp"

namespace ferry::server {

namespace code = proto::code;
using asio::ip::tcp;

session::session(std::shared_ptr<const server_context> ctx, std::unique_ptr<control_link> link, bool implicit_tls,
                 std::uint64_t id, session_slot slot, const worker_pools& pools)
    : ctx_(std::move(ctx)),
      cfg_(ctx_->settings),
      link_(std::move(link)),
      implicit_(implicit_tls),
      id_(id),
      slot_(std::move(slot)),
      pools_(pools) {
    tls_ = ctx_->current_tls();
    link_->set_session_tag(tls::stream::make_session_tag());
}

std::string session::peer_text() const {
    const auto peer = link_->peer();
    return peer.address().to_string() + ":" + std::to_string(peer.port());
}

session::~session() {
    stop_counting();  // also when the event loop is torn down with the session waiting (shutdown)
}

void session::stop_counting() {
    if (idle_) idle_->stop();
    if (std::exchange(counted_open_, false)) metrics::add(counters().sessions_open, -1);
}

void session::start(end_handler on_end) {
    on_end_ = std::move(on_end);
    asio::co_spawn(link_->executor(), run(), ended_by(shared_from_this()));
}

void session::end(std::exception_ptr e) {
    stop_counting();
    if (e) link_->close();
    if (auto f = std::move(on_end_)) f(e);
    on_end_ = nullptr;
}

asio::awaitable<void> session::run() {
    auto self = shared_from_this();
    auto& log = *ctx_->log;
    const auto via = link_->via();
    log.info("[{}] connect from {}{}{}", id_, peer_text(), via.empty() ? "" : " via " + via,
             implicit_ ? " (implicit TLS)" : "");
    metrics::add(counters().sessions_total);
    metrics::add(counters().sessions_open, 1);
    counted_open_ = true;
    if (events_on())
        record(event("session_start")
                   .num("client_port", link_->peer().port())
                   .num("server_port", link_->local().port())
                   .flag("implicit_tls", implicit_));

    // Reading a command is bounded by INACTIVE: the timer cancels the pending read or wait.
    idle_ = net::idle_timer::start(link_->executor(), std::chrono::seconds(cfg_.inactive_seconds), [this] {
        timed_out_ = true;
        link_->interrupt();
    });
    // Waiting for a transfer is not idleness; DATACTTIME bounds that wait.
    idle_->set_busy_check([this] { return transferring(); });
    arm_login_timer();

    if (implicit_) {
        std::error_code ec = co_await link_->start_tls(*tls_, control_tickets);
        if (ec) {
            log.info("[{}] implicit TLS handshake failed: {}", id_, link_->tls_error());
            metrics::add(counters().tls_handshakes_failed);
            if (events_on())
                record(event("tls_failed").str("link", "control").str("error", link_->tls_error()));
            link_->close();
            end(nullptr);
            co_return;
        }
        // Implicit FTPS clients expect protected data unless they say PROT C.
        sec_.pbsz_done = true;
        sec_.prot_private = cfg_.dataconn != config::secure_dataconn::never;
        if (!co_await control_tls_established()) {
            link_->close();
            end(nullptr);
            co_return;
        }
    }

    co_await reply(code::service_ready, "Ferry FTPS server ready.");
    if (broken_ || login_timed_out_) {
        co_await finish();
        co_return;
    }
    wait_for_command();
}

void session::wait_for_command() {
    link_->wait_readable([self = shared_from_this()](std::error_code e) {
        asio::co_spawn(self->link_->executor(), self->serve_commands(e), ended_by(self));
    });
}

asio::awaitable<void> session::serve_commands(std::error_code waited) {
    auto self = shared_from_this();
    std::string line;
    // waited: the socket closed, or INACTIVE or LOGINTIMEOUT cancelled the wait. After a wait
    // that succeeded the input is there: the first read does not wait again.
    bool readable = !waited;
    while (!waited && !broken_ && !quit_ && !login_timed_out_) {
        if (!readable && reader_.buffered() == 0 && !link_->has_pending()) {
            wait_for_command();
            co_return;
        }
        readable = false;
        if (!co_await read_command(line)) break;
        idle_->touch();
        co_await dispatch(line);
    }
    co_await finish();
}

asio::awaitable<void> session::finish() {
    auto& log = *ctx_->log;
    if (login_timed_out_ && !broken_) {
        log.info("[{}] not logged in within {} s (LOGINTIMEOUT); closing", id_, cfg_.login_timeout_seconds);
        co_await reply(code::service_not_available, "Login timeout: not logged in within " +
                                                        std::to_string(cfg_.login_timeout_seconds) + " s; closing.");
    } else if (timed_out_ && !broken_) {
        co_await reply(code::service_not_available, "Timeout: no command for too long; closing.");
    }
    if (write_timed_out_)
        log.info("[{}] the client read no reply for {} s (DATACTTIME); closing", id_, cfg_.data_timeout_seconds);

    // A transfer still running ends with the session.
    if (transferring()) {
        abort_requested_ = true;
        interrupt_transfer(false);
        drop_passive();
        co_await wait_transfer_done();
    }
    drop_passive();
    // The session is over: its place in the limits goes to the next client now, and the drain
    // below (waiting for the client's close) is bounded by a short deadline, not INACTIVE.
    login_timer_.reset();
    slot_ = session_slot();
    idle_->restart(std::chrono::seconds(std::min(10u, cfg_.inactive_seconds)));
    if (!broken_) co_await link_->close_gracefully();
    link_->close();
    if (user_)
        log.info("[{}] disconnect user {}", id_, user_->name);
    else
        log.info("[{}] disconnect", id_);
    if (events_on()) {
        const char* why = quit_ ? "quit" : login_timed_out_ ? "login_timeout" : timed_out_ ? "inactive"
                          : write_timed_out_ ? "not_reading" : "closed";
        record(event("session_end")
                   .str("reason", why)
                   .real("seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - connected_at_).count()));
    }
    end(nullptr);
}

json_event session::event(std::string_view name) const {
    json_event e(name);
    e.num("session", id_).str("client", peer_addr().to_string());
    if (user_) e.str("user", user_->name);
    return e;
}

void session::login_refused(login_refusal reason, std::string_view user, std::string_view detail) {
    metrics::add(counters().logins_refused[static_cast<std::size_t>(reason)]);
    if (events_on())
        record(event("login")
                   .str("result", "refused")
                   .str("user", user)
                   .str("reason", name_of(reason))
                   .str("detail", detail)
                   .str("control", sec_.control_secure ? link_->tls_protocol() : "clear"));
}

void session::data_refused(data_refusal reason, std::string_view detail, std::uint64_t count) {
    metrics::add(counters().data_refused[static_cast<std::size_t>(reason)], count);
    if (events_on())
        record(event("refusal").str("reason", name_of(reason)).str("detail", detail).num("count", count));
}

void session::arm_login_timer() {
    login_timer_ = std::make_unique<asio::steady_timer>(link_->executor(),
                                                        std::chrono::seconds(cfg_.login_timeout_seconds));
    login_timer_->async_wait([w = weak_from_this()](const std::error_code& e) {
        auto self = w.lock();
        if (e || !self || self->user_) return;
        // SECURITY: connection hoarding: a connection that never logs in (slowloris, an
        // unfinished TLS handshake) gives its slot back after LOGINTIMEOUT.
        self->login_timed_out_ = true;
        self->link_->interrupt();
    });
}

asio::awaitable<bool> session::control_tls_established() {
    sec_.control_secure = true;
    // A control connection that resumed another one's session continues that client's sessions.
    const bool resumed = link_->adopt_resumed_session_tag();
    auto id = link_->tls_peer();
    ctx_->log->info("[{}] TLS {} {}{}{}{}", id_, link_->tls_protocol(), link_->tls_cipher(), resumed ? " resumed" : "",
                    id.present ? " client certificate " : "", id.present ? id.subject + " issued by " + id.issuer : "");
    metrics::add(counters().tls_handshakes[static_cast<std::size_t>(tls_link::control)][resumed]);
    if (events_on()) {
        auto e = event("tls");
        e.str("link", "control").str("version", link_->tls_protocol()).str("cipher", link_->tls_cipher()).flag("resumed", resumed);
        if (id.present) e.str("client_certificate", id.subject).str("issuer", id.issuer).str("sha256", id.fingerprint);
        record(e);
    }
    cert_user_ = id.present ? ctx_->certs.find(id.fingerprint, id.subject, id.issuer) : nullptr;
    client_fingerprint_ = id.present ? id.fingerprint : "";
    // SECURE_LOGIN VERIFY_USER: decided before any command is read.
    auto r = check_certificate_at_handshake(cfg_, cert_user_, link_->local().port());
    if (!r) co_return true;
    ctx_->log->warn("[{}] {}", id_, r->text);
    login_refused(login_refusal::certificate, "", r->text);
    co_await reply(r->code, r->text + " Closing.");
    broken_ = true;
    co_return false;
}

asio::awaitable<void> session::reply(int c, std::string_view text) {
    std::string wire = proto::format_reply(c, text);
    while (writing_) {
        co_await wait_for_wake();
    }
    if (broken_) co_return;
    writing_ = true;
    // SECURITY: a client that stops reading its replies cannot hold the session (and its
    // buffers) forever: a reply not written within DATACTTIME ends the session. The timer lives
    // in this frame, so an idle session holds none (its destructor cancels the wait).
    asio::steady_timer deadline(link_->executor(), std::chrono::seconds(cfg_.data_timeout_seconds));
    deadline.async_wait([w = weak_from_this()](const std::error_code& e) {
        auto self = w.lock();
        if (e || !self || !self->writing_) return;  // written in time
        self->write_timed_out_ = true;
        self->link_->interrupt();
    });
    std::error_code ec = co_await link_->send(wire);
    deadline.cancel();
    writing_ = false;
    wake_waiters();
    if (ec || write_timed_out_) {
        broken_ = true;
        link_->interrupt();
    }
}

asio::awaitable<bool> session::read_command(std::string& line) {
    for (;;) {
        switch (reader_.next(line)) {
            case proto::line_reader::status::line: co_return true;
            case proto::line_reader::status::too_long:
                co_await reply(code::syntax_error, "Command line too long.");
                continue;
            case proto::line_reader::status::need_more: break;
        }
        // Small: this buffer lives in the coroutine frame of every idle session. Commands are
        // short, and a longer line simply takes several reads.
        char buf[512];
        std::error_code ec;
        std::size_t n = co_await link_->receive(buf, sizeof buf, ec);
        if (ec) {
            if (ec != asio::error::eof && ec != asio::error::operation_aborted)
                ctx_->log->debug("[{}] control read: {}", id_, ec.message());
            co_return false;
        }
        reader_.feed(std::string_view(buf, n));
    }
}

asio::awaitable<void> session::dispatch(const std::string& line) {
    proto::command cmd;
    if (!proto::parse_command(line, cmd)) {
        co_await reply(code::syntax_error, "Syntax error: expected a command verb.");
        co_return;
    }
    if (ctx_->log->should_log(spdlog::level::debug))
        ctx_->log->debug("[{}] <<< {}", id_, cmd.verb == "PASS" ? "PASS ****" : proto::printable(line));

    const command_entry* entry = find_command(cmd.verb);
    if (!entry) {
        co_await reply(code::syntax_error, "Unknown command '" + cmd.verb + "'.");
        co_return;
    }
    // RFC 959: a command arriving during a transfer waits for it, except the few that act on it.
    if (transferring() && !(entry->flags & during_transfer)) co_await wait_transfer_done();
    if (broken_) co_return;

    if (auto r = check_command_security(cfg_, sec_, entry->flags & pre_auth)) {
        if (events_on()) record(event("refusal").str("reason", "policy").str("command", cmd.verb).num("code", r->code).str("detail", r->text));
        co_await reply(r->code, r->text);
        co_return;
    }
    if ((entry->flags & needs_login) && !user_) {
        co_await reply(code::not_logged_in, "Please log in with USER and PASS first.");
        co_return;
    }
    // SECURITY: a read-only account (users file option readonly) changes nothing, whatever the
    // folder's permissions would allow.
    if ((entry->flags & writes) && user_ && user_->read_only) {
        if (events_on()) record(event("refusal").str("reason", "read_only").str("command", cmd.verb).num("code", code::file_unavailable));
        co_await reply(code::file_unavailable, read_only_refusal);
        co_return;
    }
    if ((entry->flags & needs_arg) && cmd.arg.empty()) {
        co_await reply(code::syntax_error_args, std::string(entry->verb) + " needs an argument: " +
                                                   std::string(entry->help));
        co_return;
    }
    // RNTO must follow RNFR directly; REST applies to the next transfer command only, but clients
    // send it before or after setting up the data connection and the type (curl: EPSV, TYPE, REST).
    const bool keeps_rename = cmd.verb == "RNTO";
    const bool keeps_restart = cmd.verb == "REST" || cmd.verb == "PASV" || cmd.verb == "EPSV" || cmd.verb == "PORT" ||
                               cmd.verb == "EPRT" || cmd.verb == "TYPE" || (entry->flags & during_transfer);
    co_await (this->*(entry->fn))(cmd.arg);
    if (!keeps_rename && cmd.verb != "RNFR") rename_from_.clear();
    if (!keeps_restart) restart_ = 0;
}

asio::awaitable<void> session::wait_transfer_done() {
    while (transferring()) co_await wait_for_wake();
}

asio::awaitable<void> session::wait_for_wake() {
    // Never expires: only wake_waiters() (cancel) ends the waits. Setting the expiry again
    // here would cancel the other waiter's wait, and the two would wake each other forever.
    if (!wake_) wake_ = std::make_unique<asio::steady_timer>(link_->executor(), asio::steady_timer::time_point::max());
    co_await wake_->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

}  // namespace ferry::server
