// Data connections and transfers: RETR, STOR/APPE/STOU, LIST/NLST/MLSD, ABOR.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <optional>

#include "net/delivery.hpp"
#include "proto/ascii.hpp"
#include "proto/command.hpp"
#include "proto/printable.hpp"
#include "proto/reply.hpp"
#include "proto/reply_code.hpp"
#include "server/detail/listing_source.hpp"
#include "server/session.hpp"
#include "server/xferlog.hpp"

namespace ferry::server {

namespace code = proto::code;
using asio::ip::tcp;

namespace {
// After a FIN-ended upload's 226 is acknowledged, how long a client that neither speaks nor
// closes must stay connected before the upload is final (plus two round trips). A killed
// client's kernel closes all its sockets at once (well under a millisecond), answering the
// unread 226 with a RST.
constexpr auto fin_upload_settle = std::chrono::milliseconds(100);
}  // namespace

struct session::transfer_request {
    transfer_kind kind = transfer_kind::retr;
    std::string path;  // virtual path, for replies and logs
    vfs::unique_fd file;
    std::uint64_t size = 0;
    std::uint64_t offset = 0;
    vfs::root::upload upload;
    std::shared_ptr<listing_source> listing;  // listings (listing.cpp)
    bool ascii = false;
    bool unique = false;
    bool shrank = false;  // RETR: the file got shorter than its size at RETR while it was sent
    // RETR of a small file through user space: its bytes from offset, read by the same disk job
    // that opened it, so the transfer needs no second trip to the disk pool (two thread wake-ups
    // fewer per file).
    std::string head;

    // While it runs (session::running_): what STAT reports, and what ABOR, DATACTTIME and the
    // session's end close.
    std::uint64_t moved = 0;                      // bytes so far
    net::data_channel* channel = nullptr;         // while connected
    asio::ip::tcp::socket* connecting = nullptr;  // an active-mode connect in progress
};

// Files up to this size are read whole when they are opened for RETR.
constexpr std::uint64_t read_with_open = 64 * 1024;

// ---- set-up ------------------------------------------------------------------------------

struct session::early_data {
    explicit early_data(const asio::any_io_executor& ex) : done_signal(ex), deadline(ex) {
        done_signal.expires_at(asio::steady_timer::time_point::max());
    }
    void finish() {
        done = true;
        deadline.cancel();
        done_signal.cancel();
    }
    std::unique_ptr<net::data_channel> channel;
    std::error_code ec;
    std::string why;
    bool done = false;
    bool abandoned = false;  // superseded (PASV, EPSV, PORT, EPRT, REIN), aborted or timed out
    bool handshake_late = false;  // the deadline ended the handshake
    asio::steady_timer done_signal;  // cancelled when done
    asio::steady_timer deadline;     // DATACTTIME for the handshake
};

void session::drop_passive() {
    link_->close_passive();
    slot_.drop_passive();
    if (auto t = std::exchange(passive_expiry_, nullptr)) t->cancel();
    if (auto e = std::exchange(early_, nullptr)) {
        e->abandoned = true;
        if (e->channel) e->channel->abort();
    }
}

void session::arm_passive_expiry() {
    passive_expiry_ = std::make_shared<asio::steady_timer>(link_->executor(),
                                                           std::chrono::seconds(cfg_.data_timeout_seconds));
    passive_expiry_->async_wait([w = weak_from_this(), t = std::weak_ptr<asio::steady_timer>(passive_expiry_)](
                                    const std::error_code& e) {
        auto self = w.lock();
        // Superseded (another PASV, a transfer took it, REIN): passive_expiry_ is another timer.
        if (e || !self || self->passive_expiry_ != t.lock() || self->transferring()) return;
        // SECURITY: passive port hoarding: a listener (or an early data connection) nobody uses
        // gives its port back after DATACTTIME.
        self->ctx_->log->info("[{}] passive data port unused for {} s (DATACTTIME); closed", self->id_,
                              self->cfg_.data_timeout_seconds);
        self->drop_passive();
        self->data_mode_ = data_mode::none;
    });
}

void session::start_early_data() {
    early_ = std::make_shared<early_data>(link_->executor());
    asio::co_spawn(link_->executor(), take_early_data(early_), asio::detached);
}

asio::awaitable<std::error_code> session::accept_passive(tcp::socket& sock) {
    std::optional<asio::ip::address> required;
    if (passive_peer_must_match(cfg_)) required = peer_addr();
    net::refused_connections refused;
    std::error_code ec = co_await link_->accept_data(sock, required, refused);
    if (refused.count) {
        ctx_->log->warn("[{}] refused {} data connection(s) from an address other than {}, the last from {} "
                        "(PASSIVEDATACONN NOREDIRECT)",
                        id_, refused.count, peer_addr().to_string(), refused.last.to_string());
        data_refused(data_refusal::stealing, "a passive data connection from an address other than the client's",
                     refused.count);
    }
    co_return ec;
}

asio::awaitable<std::error_code> session::protect_data(net::data_channel& data, int tickets, std::string& why) {
    std::error_code ec = co_await data.protect_as_server(*tls_, tickets);
    if (ec) {
        why = "TLS handshake on the data connection failed: " + data.tls_error();
        metrics::add(counters().tls_handshakes_failed);
        data_refused(data_refusal::tls_failed, why);
        co_return ec;
    }
    // SECURITY: data connection stealing: under SECURE_SESSION_REUSE REQUIRED only a client
    // that holds this session's TLS secrets (it resumes our session) gets the data.
    if (auto refused = check_data_session_reuse(cfg_, link_->session_tag(), data.stream().resumed_session_tag())) {
        why = *refused;
        data_refused(data_refusal::reuse_required, why);
        co_return make_error_code(std::errc::permission_denied);
    }
    metrics::add(counters().tls_handshakes[static_cast<std::size_t>(tls_link::data)][data.stream().session_reused()]);
    co_return std::error_code{};
}

asio::awaitable<void> session::take_early_data(std::shared_ptr<early_data> e) {
    auto self = shared_from_this();
    tcp::socket sock(link_->executor());
    e->ec = co_await accept_passive(sock);
    if (e->abandoned) {  // open_data_connection says why
        if (!e->ec) e->ec = asio::error::operation_aborted;
        e->finish();
        co_return;
    }
    link_->close_passive();  // one connection per PASV/EPSV
    slot_.drop_passive();
    if (e->ec) {
        e->why = "cannot accept the data connection: " + e->ec.message();
        e->finish();
        co_return;
    }
    e->channel = std::make_unique<net::data_channel>(std::move(sock));
    e->channel->stream().set_bulk_receive();
    e->deadline.expires_after(std::chrono::seconds(cfg_.data_timeout_seconds));
    e->deadline.async_wait([w = std::weak_ptr<early_data>(e)](const std::error_code& t) {
        auto e = w.lock();
        if (t || !e || !e->channel) return;
        e->handshake_late = true;
        e->channel->abort();
    });
    // No ticket on the data connection: the fresh one came with the 227/229 reply.
    e->ec = co_await protect_data(*e->channel, 0, e->why);
    if (e->ec && e->handshake_late) e->why = "the data connection's TLS handshake did not finish in time";
    e->finish();
}

asio::awaitable<std::error_code> session::open_data_connection(transfer_request& req,
                                                               std::unique_ptr<net::data_channel>& out, std::string& why) {
    const bool server_sends = req.kind != transfer_kind::stor;
    tcp::socket sock(link_->executor());
    std::error_code ec;
    if (auto e = early_) {
        if (!sec_.prot_private) {
            // PROT C after PASV/EPSV: that connection is waiting for a TLS handshake.
            drop_passive();
            data_mode_ = data_mode::none;
            why = "the data protection changed (PROT) after PASV/EPSV; send PASV or EPSV again";
            co_return make_error_code(std::errc::protocol_error);
        }
        // Taken (or being taken) since PASV/EPSV. DATACTTIME and ABOR end the wait through
        // drop_passive().
        while (!e->done) {
            auto [ig] = co_await e->done_signal.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
            (void)ig;
        }
        if (early_ == e) early_.reset();
        data_mode_ = data_mode::none;
        if (e->ec) {
            if (e->abandoned) {
                why = abort_requested_ ? "aborted"
                      : e->channel      ? "the data connection's TLS handshake did not finish in time"
                                       : "no data connection arrived in time";
                if (!abort_requested_) data_refused(data_refusal::timeout, why);
            }
            else
                why = e->why;
            if (e->channel) e->channel->close();
            co_return e->ec;
        }
        out = std::move(e->channel);
        req.channel = out.get();
        co_return std::error_code{};
    }
    if (data_mode_ == data_mode::passive) {
        ec = co_await accept_passive(sock);
        if (ec) why = abort_requested_ ? "aborted" : "no data connection arrived in time";
        if (ec && !abort_requested_) data_refused(data_refusal::timeout, why);
    } else {
        req.connecting = &sock;
        ec = co_await link_->connect_data(sock, cfg_.active_from_port_20, active_target_);
        req.connecting = nullptr;
        const std::string target = active_target_.address().to_string() + " port " + std::to_string(active_target_.port());
        if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
            why = abort_requested_ ? "aborted" : "no answer from " + target + " in time (is active mode blocked? use passive mode)";
            if (!abort_requested_) data_refused(data_refusal::timeout, why);
        }
        else if (ec)
            why = "cannot connect to " + target + ": " + ec.message();
    }
    link_->close_passive();
    slot_.drop_passive();
    data_mode_ = data_mode::none;
    if (ec) co_return ec;
    // No TCP_NODELAY while data flows: the kernel then sends full segments instead of one per
    // TLS record (16% faster PROT P downloads on loopback, bench/). Uploads and listings set it
    // before the close; downloads end corked instead (run_transfer).
    out = std::make_unique<net::data_channel>(std::move(sock));
    out->stream().set_bulk_receive();  // fewer reads from the handshake on; uploads read whole buffers
    req.channel = out.get();  // from here DATACTTIME and ABOR can interrupt it, handshake included
    if (sec_.prot_private) {
        // SECURITY: data connection stealing: no session tag here. Tickets and sessions made on a
        // data connection carry the control session's tag only by inheriting it from a session
        // that resumed it; a thief's refused full handshake must not walk away with a tagged one.
        // Fresh tickets normally come over the control connection (reply_data_setup). After CCC
        // they cannot, so a download hands one out instead: its client reads to the end, so an
        // unread ticket cannot turn the client's close into an RST (as it would on an upload).
        const bool ticket_here = server_sends && !sec_.control_secure;
        ec = co_await protect_data(*out, ticket_here ? 1 : 0, why);
        if (ec) co_return ec;
    }
    co_return std::error_code{};
}

asio::awaitable<void> session::begin_transfer(std::shared_ptr<transfer_request> req) {
    if (data_mode_ == data_mode::none) {
        co_await reply(code::cannot_open_data, "Use PASV, EPSV, PORT or EPRT first.");
        co_return;
    }
    if (auto r = check_data_protection(cfg_, sec_)) {
        data_refused(data_refusal::policy, r->text);
        drop_passive();
        data_mode_ = data_mode::none;
        co_await reply(r->code, r->text);
        co_return;
    }
    std::string what = req->kind == transfer_kind::listing ? "directory listing"
                                                           : (req->unique ? "FILE: " : "") + req->path;
    std::string mode = req->ascii ? "ASCII" : "BINARY";
    std::string text = "Opening " + mode + " mode data connection for " + what;
    if (req->kind == transfer_kind::retr) text += " " + proto::transfer_size_note(req->size - req->offset);
    running_ = req;
    if (auto t = std::exchange(passive_expiry_, nullptr)) t->cancel();  // DATACTTIME of the transfer applies
    abort_requested_ = false;
    co_await reply(code::opening_data, text + ".");
    // The transfer runs beside the command loop, which keeps answering ABOR, STAT and NOOP.
    asio::co_spawn(link_->executor(), [self = shared_from_this(), req]() -> asio::awaitable<void> {
        co_await self->run_transfer(req);
    }, asio::detached);
}

namespace {
// Counts the transfers running in the whole server while one lives: SIGTERM waits for them
// (SHUTDOWNGRACE). Ends with the coroutine, after the final reply has been written.
struct running_transfer {
    std::atomic<unsigned>& n;
    explicit running_transfer(server_shared& shared) : n(shared.transfers) {
        ++n;
        ++shared.transfers_begun;
    }
    ~running_transfer() { --n; }
    running_transfer(const running_transfer&) = delete;
    running_transfer& operator=(const running_transfer&) = delete;
};
}  // namespace

asio::awaitable<void> session::run_transfer(std::shared_ptr<transfer_request> req) {
    running_transfer counted(*ctx_->shared);
    auto started = std::chrono::steady_clock::now();
    bool stalled = false;
    std::unique_ptr<net::data_channel> data;
    bool resumed = false;
    std::string data_tls, data_cipher;  // for the event log
    std::uint64_t rate = 0;             // bytes/s, 0: not paced
    struct throttled_transfer {         // METRICS: the throttled_transfers gauge while paced
        metrics& m;
        explicit throttled_transfer(metrics& c) : m(c) { metrics::add(m.throttled_transfers, 1); }
        ~throttled_transfer() { metrics::add(m.throttled_transfers, -1); }
        throttled_transfer(const throttled_transfer&) = delete;
        throttled_transfer& operator=(const throttled_transfer&) = delete;
    };
    std::optional<throttled_transfer> throttled;
    const data_mode mode = data_mode_;
    bool drain_beside = false;  // our side is closed; the client's close is awaited beside the session
    // DATACTTIME bounds both the wait for the connection and any stall once data moves.
    auto watchdog = net::idle_timer::start(link_->executor(), std::chrono::seconds(cfg_.data_timeout_seconds),
                                           [this, &stalled] {
                                               stalled = true;
                                               drop_passive();
                                               interrupt_transfer(true);
                                           });
    net::idle_timer_guard guard{watchdog};
    std::string why;
    std::error_code ec = co_await open_data_connection(*req, data, why);
    if (!ec && abort_requested_) {
        // ABOR or the session's end came while the connection was being taken: nothing may move.
        data->close();
        req->channel = nullptr;
        ec = asio::error::operation_aborted;
        why = "aborted";
    }
    int final_code = code::closing_data;
    std::string final_text;
    // How an upload ends: committed before the reply (close_notify marked its end), committed
    // provisionally and made final once the client has acknowledged the reply (a bare FIN ended
    // it), kept as a partial, or discarded.
    enum class upload_end { commit, confirm_then_commit, keep_partial, discard };
    upload_end up_end = upload_end::discard;
    std::string incomplete_why;  // why an upload was not committed (for the reply and the log)
    bool rename_after_confirm = false;  // confirm_then_commit without commit_provisionally
    bool aborted = false;               // ABOR or the session's end, as the data ended
    if (ec) {
        req->channel = nullptr;
        if (stalled && data) why = "the data connection's TLS handshake did not finish in time";
        // RFC 4217: 522 when the data connection's TLS negotiation is refused.
        final_code = ec == std::errc::permission_denied ? code::network_protocol_not_supported : code::cannot_open_data;
        final_text = "Cannot open data connection: " + why + ".";
        ctx_->log->info("[{}] data connection failed: {}", id_, why);
    } else {
        resumed = data->stream().session_reused();
        if (data->secure() && events_on()) {
            data_tls = data->stream().protocol();
            data_cipher = data->stream().cipher();
        }
        data->set_ascii(req->ascii && req->kind != transfer_kind::listing);
        // DOWNLOADRATE / UPLOADRATE, or the user's own download= / upload=; listings are not limited.
        if (req->kind == transfer_kind::retr) rate = user_ && user_->download_rate ? *user_->download_rate : cfg_.download_rate;
        if (req->kind == transfer_kind::stor) rate = user_ && user_->upload_rate ? *user_->upload_rate : cfg_.upload_rate;
        data->pace(rate);
        if (rate) throttled.emplace(counters());
        data->on_moved([r = req.get(), watchdog](std::size_t n) {
            r->moved += n;
            watchdog->touch();  // DATACTTIME measures stalls, not the transfer's length
        });
        switch (req->kind) {
            case transfer_kind::retr: ec = co_await send_retr(*req, *data); break;
            case transfer_kind::stor: ec = co_await receive_stor(*req, *data); break;
            case transfer_kind::listing: ec = co_await send_listing(*req->listing, *data); break;
        }
        const bool local_failure = ec && ec.category() == std::system_category() && ec != std::errc::broken_pipe &&
                                   ec != std::errc::connection_reset && ec != std::errc::operation_canceled;
        // How the client ended the data (finish_sending below ends our TLS).
        const bool protected_data = data->secure(), no_close_notify = data->stream().truncated();
        if (!ec) {
            watchdog->touch();
            // Uploads and listings: flush the last partial segment now rather than after the
            // client's delayed ACK. Downloads end corked; the shutdown in finish_sending
            // sends what is held, FIN included (setting TCP_NODELAY here would push it early).
            if (req->kind != transfer_kind::retr) {
                std::error_code ig;
                data->stream().socket().set_option(tcp::no_delay(true), ig);
            }
            co_await data->finish_sending();
            if (lingering_ < max_lingering)
                drain_beside = true;
            else
                co_await data->drain_and_close();
        } else {
            data->close();
        }
        req->channel = nullptr;
        // Decided now: an ABOR (or the session's end) that arrives while the upload is being
        // committed on the disk pool must not turn a committed upload into an aborted one; the
        // confirmation step below handles a client that went away.
        aborted = abort_requested_;
        if (req->kind == transfer_kind::stor) {
            // SECURITY: truncation and lost files. Only an upload whose end the client marked is
            // committed over the old file: TLS close_notify, or for a FIN (PROT C, or PROT P under
            // UPLOADCLOSENOTIFY OPTIONAL) a client still there to acknowledge the final reply.
            // A killed client, a closed control connection, ABOR or a stall keep the data as a
            // resumable partial instead; a local failure (disk full) discards it.
            if (aborted || stalled)
                up_end = upload_end::keep_partial;
            else if (local_failure)
                up_end = upload_end::discard;
            else if (ec)
                up_end = upload_end::keep_partial;
            else if (protected_data && !no_close_notify)
                up_end = upload_end::commit;
            else if (protected_data && cfg_.upload_close_notify_required) {
                up_end = upload_end::keep_partial;
                incomplete_why = "the data connection ended without TLS close_notify (UPLOADCLOSENOTIFY REQUIRED)";
            } else
                up_end = upload_end::confirm_then_commit;
            if (up_end == upload_end::commit || up_end == upload_end::confirm_then_commit) {
                // A FIN-ended upload replaces the target at once too, keeping the previous file
                // until the client has shown that it is still there; where that is impossible (no
                // hard link), the rename waits for the client instead.
                // On the disk pool, like every other file-system call (and as the system user).
                auto commit = [req, provisionally = up_end == upload_end::confirm_then_commit] {
                    return provisionally ? req->upload.commit_provisionally() : req->upload.commit();
                };
                ec = co_await on_disk(std::move(commit));
                if (up_end == upload_end::confirm_then_commit && ec == std::errc::operation_not_supported) {
                    ec.clear();
                    rename_after_confirm = true;
                }
                if (ec) {
                    up_end = upload_end::discard;
                    final_code = code::local_error;
                    final_text = "Upload could not be stored: " + describe_error(ec);
                }
            }
        }
        if (aborted) {
            final_code = code::transfer_aborted;
            final_text = "Transfer aborted.";
        } else if (stalled) {
            final_code = code::transfer_aborted;
            final_text = "Data connection stalled for " + std::to_string(cfg_.data_timeout_seconds) + " s; transfer aborted.";
        } else if (!incomplete_why.empty()) {
            final_code = code::transfer_aborted;
            final_text = "Upload incomplete: " + incomplete_why + ".";
        } else if (ec && final_text.empty()) {
            if (req->shrank) {
                final_code = code::local_error;
                final_text = "Transfer failed: " + req->path + " changed during the download (it is now shorter than the " +
                             std::to_string(req->size) + " bytes it had); download it again.";
            } else if (local_failure && ec.value() != 0 && ec != asio::error::eof) {
                final_code = ec == std::errc::no_space_on_device ? code::insufficient_storage : code::local_error;
                final_text = "Transfer failed on the server: " + describe_error(ec);
            } else {
                final_code = code::transfer_aborted;
                final_text = "Data connection failed; transfer aborted: " +
                             (data->tls_error().empty() ? ec.message() : data->tls_error()) + ".";
            }
        }
    }
    if (req->kind == transfer_kind::stor && up_end == upload_end::keep_partial) {
        auto keep = [req] { return req->upload.keep_partial(); };
        const std::uint64_t kept = co_await on_disk(std::move(keep));
        if (kept) {
            final_text += " " + std::to_string(kept) + " bytes kept; REST " + std::to_string(kept) + " and STOR " +
                          req->path + " resume the upload.";
            ctx_->log->info("[{}] upload of {} incomplete{}{}; {} bytes kept as its partial", id_, req->path,
                            incomplete_why.empty() ? "" : ": ", incomplete_why, kept);
        }
    } else if (final_code != code::closing_data && req->kind == transfer_kind::stor) {
        auto discard = [req] {
            req->upload.abort();
            return true;
        };
        co_await on_disk(std::move(discard));
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (final_code == code::closing_data) {
        final_text = "Transfer complete: " + std::to_string(req->moved) + " bytes";
        if (req->unique) final_text += " stored as " + req->upload.final_name();
        final_text += ".";
    }
    const char* dir = req->kind == transfer_kind::stor ? "upload" : req->kind == transfer_kind::retr ? "download" : "listing";
    auto log_end = [&](std::string_view note) {
        ctx_->log->info("[{}] {} {} {} bytes {:.3f} s {:.1f} MB/s {} {} -> {}{}", id_, dir,
                        req->kind == transfer_kind::listing ? std::string("-") : proto::printable(req->path), req->moved, secs,
                        secs > 0 ? req->moved / secs / 1e6 : 0.0, sec_.prot_private ? "PROT P" : "PROT C",
                        resumed ? "resumed" : "-", final_code, note);
        // Complete only when the transfer ended with 226 and nothing was put back afterwards.
        const bool complete = final_code == code::closing_data && note.empty();
        const auto direction = req->kind == transfer_kind::stor   ? transfer_direction::upload
                               : req->kind == transfer_kind::retr ? transfer_direction::download
                                                                  : transfer_direction::listing;
        const auto protection = sec_.prot_private ? data_protection::tls : data_protection::clear;
        auto& m = counters();
        metrics::add(m.transfers[static_cast<std::size_t>(direction)][static_cast<std::size_t>(protection)]);
        metrics::add(m.transfer_bytes[static_cast<std::size_t>(direction)][static_cast<std::size_t>(protection)],
                     req->moved);
        if (!complete) metrics::add(m.transfers_incomplete);
        if (events_on()) {
            auto e = event("transfer");
            e.str("direction", name_of(direction));
            if (req->kind != transfer_kind::listing)
                e.str("path", req->unique && final_code == code::closing_data ? req->upload.final_name() : req->path);
            e.num("bytes", req->moved).real("seconds", secs).num("code", static_cast<std::uint64_t>(final_code));
            e.str("result", complete ? "complete" : aborted || final_code == code::transfer_aborted ? "aborted" : "failed");
            if (!complete) e.str("detail", final_text + std::string(note));
            e.str("type", req->ascii ? "A" : "I").str("protection", name_of(protection));
            if (!data_tls.empty()) e.str("data_tls", data_tls).str("data_cipher", data_cipher).flag("data_resumed", resumed);
            e.str("control", sec_.control_secure ? link_->tls_protocol() : sec_.control_cleared ? "cleared" : "clear");
            e.flag("ccc", sec_.control_cleared);
            e.str("data", mode == data_mode::active ? "active" : "passive");
            if (mode == data_mode::active)
                e.str("active_target", active_target_.address().to_string() + ":" + std::to_string(active_target_.port()));
            else if (!advertised_.empty())
                e.str("advertised", advertised_);
            if (rate) e.num("rate_limit", rate);
            record(e);
        }
        // XFERLOG: uploads and downloads (listings are not transfers there).
        auto& xferlog = ctx_->shared->xferlog;
        if (req->kind != transfer_kind::listing && xferlog.enabled()) {
            xferlog_entry e;
            const std::time_t now = std::time(nullptr);
            ::localtime_r(&now, &e.when);
            e.seconds = secs;
            e.remote_host = peer_addr().to_string();
            e.bytes = req->moved;
            e.filename = req->unique && final_code == code::closing_data ? req->upload.final_name() : req->path;
            e.ascii = req->ascii;
            e.incoming = req->kind == transfer_kind::stor;
            e.user = user_ ? user_->name : pending_user_;
            e.complete = complete;
            xferlog.write(format_xferlog_line(e));
        }
    };
    watchdog->stop();
    // Our side is closed (close_notify, FIN): the reply need not wait for the client's close.
    // The rest of the drain goes on beside the session.
    if (drain_beside) linger_close(std::move(data));
    if (up_end != upload_end::confirm_then_commit) {
        log_end("");
        co_await reply(final_code, final_text);
    } else {
        // The 226 goes first; whether the upload stays depends on the client's TCP answering it
        // with an ACK (a killed client's kernel answers with a RST). The session reads no further
        // command before this transfer is done.
        co_await reply(final_code, final_text);
        auto d = net::delivery::peer_gone;  // not inside ?: (GCC 12 and co_await)
        if (!broken_) d = co_await link_->wait_delivered(std::chrono::seconds(cfg_.data_timeout_seconds), fin_upload_settle);
        std::string note;
        if (d != net::delivery::acknowledged) {
            auto put_back = [req, rename_after_confirm] {
                return rename_after_confirm ? req->upload.keep_partial() : req->upload.settle(false);
            };
            const std::uint64_t kept = co_await on_disk(std::move(put_back));
            note = std::string(d == net::delivery::peer_gone ? " (the client was gone" : " (the client did not acknowledge the reply") +
                   ": " + std::to_string(kept) + " bytes kept as a partial" +
                   (rename_after_confirm ? "" : ", the previous file put back") + ")";
        } else {
            auto finish = [req, rename_after_confirm] {
                if (rename_after_confirm) return req->upload.commit();
                req->upload.settle(true);
                return std::error_code{};
            };
            const std::error_code cec = co_await on_disk(std::move(finish));
            if (cec)
                note = " (but the upload could not be stored: " + describe_error(cec) + ")";
        }
        log_end(note);
        if (!note.empty()) ctx_->log->warn("[{}] upload of {} ended by FIN{}", id_, req->path, note);
    }
    idle_->touch();  // INACTIVE counts from the end of the transfer
    running_.reset();
    wake_waiters();
}

std::string session::transfer_progress() const {
    const std::string what = running_->path.empty() ? "listing" : running_->path;
    return "Transfer of " + what + " in progress: " + std::to_string(running_->moved) + " bytes so far.";
}

void session::interrupt_transfer(bool abort) {
    if (!running_) return;
    if (auto* c = running_->channel) abort ? c->abort() : c->close();
    std::error_code ig;
    if (auto* s = running_->connecting) s->close(ig);
}

void session::linger_close(std::unique_ptr<net::data_channel> data) {
    // Bounded: a client that never closes loses the connection after this.
    const auto limit = std::chrono::seconds(std::min<std::uint64_t>(cfg_.data_timeout_seconds, 10));
    std::shared_ptr<net::data_channel> s(std::move(data));
    auto timer = std::make_shared<asio::steady_timer>(s->stream().socket().get_executor(), limit);
    timer->async_wait([s](const std::error_code& e) {
        if (!e) s->abort();
    });
    ++lingering_;
    asio::co_spawn(s->stream().socket().get_executor(), [s, timer, weak = weak_from_this()]() -> asio::awaitable<void> {
        co_await s->drain_and_close();
        timer->cancel();
        if (auto self = weak.lock()) --self->lingering_;
    }, asio::detached);
}

// ---- moving bytes ------------------------------------------------------------------------

namespace {

// File reads and writes of a running transfer happen on the disk pool, overlapped with the
// network side by the data channel: while the event thread sends one buffer (or receives the
// next), a pool thread reads the next one from the file (or writes the previous one to it). A
// slow or hung file system then stalls this transfer only, not the other sessions of its event
// thread.
auto read_job(int fd, char* buf, std::uint64_t offset, std::size_t want) {
    return [fd, buf, offset, want] {
        for (;;) {
            ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(offset));
            if (n >= 0) return net::piece{static_cast<std::size_t>(n), {}};
            if (errno != EINTR) return net::piece{0, {errno, std::system_category()}};
        }
    };
}

auto write_job(int fd, const char* p, std::size_t n) {
    return [fd, p, n]() mutable {
        while (n > 0) {
            ssize_t w = ::write(fd, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                return std::error_code{errno, std::system_category()};
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return std::error_code{};
    };
}

}  // namespace

asio::awaitable<std::error_code> session::send_retr(transfer_request& req, net::data_channel& data) {
    const int fd = req.file.get();
    if (!req.ascii && !data.secure()) {
        // Clear binary downloads never pass through user space. sendfile reads the file, so it
        // runs on the bulk lane too, as much as the socket takes per trip.
        auto on_pool = [this](const net::data_channel::sendfile_trip& trip) { return on_bulk(trip); };
        co_return co_await data.send_file(fd, req.offset, req.size - req.offset, on_pool, req.shrank);
    }
    // The file as it was at RETR: its size then bounds what is read (SIZE said so), and a file
    // that got shorter meanwhile (truncated in place) ends the transfer with an error, never 226.
    std::uint64_t offset = req.offset;
    auto produce = [this, &req, &data, fd, &offset](char* buf, std::size_t capacity) -> asio::awaitable<net::piece> {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(capacity, req.size - std::min(offset, req.size)));
        if (want == 0) co_return net::piece{};
        net::piece p;
        const std::uint64_t in_head = offset - req.offset;  // bytes of req.head already sent
        if (in_head < req.head.size()) {
            p.bytes = std::min<std::size_t>(want, req.head.size() - static_cast<std::size_t>(in_head));
            std::memcpy(buf, req.head.data() + in_head, p.bytes);
        } else {
            auto job = read_job(fd, buf, offset, want);
            p = co_await on_bulk(std::move(job));
        }
        if (!p.ec && p.bytes == 0) {
            req.shrank = true;
            p.ec = std::make_error_code(std::errc::io_error);
        }
        offset += p.bytes;
        // The last piece, close_notify and FIN leave as one segment (shutdown pushes it).
        if (offset >= req.size) data.stream().cork(true);
        co_return p;
    };
    co_return co_await data.send_all(produce);
}

asio::awaitable<std::error_code> session::receive_stor(transfer_request& req, net::data_channel& data) {
    if (req.upload.cuts()) {  // a trip to the disk pool only for an in-place REST+STOR
        auto start = [&up = req.upload] { return up.start_writing(); };
        if (std::error_code ec = co_await on_disk(std::move(start))) co_return ec;
    }
    const int fd = req.upload.fd();
    auto consume = [this, fd](const char* p, std::size_t n) -> asio::awaitable<std::error_code> {
        auto job = write_job(fd, p, n);
        co_return co_await on_bulk(std::move(job));
    };
    data.set_quick_ack_on_short_reads(true);
    co_return co_await data.receive_all(consume);
}

// ---- commands ----------------------------------------------------------------------------

asio::awaitable<void> session::cmd_retr(const std::string& arg) {
    auto req = std::make_shared<transfer_request>();
    req->kind = transfer_kind::retr;
    req->path = vpath(arg);
    req->ascii = ascii_;
    req->offset = range_ ? range_->first : restart_;
    restart_ = 0;
    const auto range = range_;
    range_.reset();
    struct opened {
        vfs::unique_fd file;
        std::uint64_t size = 0;
        std::error_code ec;
        std::string head;  // the whole file from offset, when it is small (read_with_open)
    };
    // Clear binary downloads use sendfile, which needs no copy in user space.
    const bool through_user_space = ascii_ || sec_.prot_private;
    auto job = [fs = fs_, p = req->path, offset = req->offset, through_user_space] {
        opened o;
        o.file = fs->open_read(p, o.ec);
        struct stat st {};
        if (!o.ec && ::fstat(o.file.get(), &st) != 0) o.ec = {errno, std::system_category()};
        o.size = static_cast<std::uint64_t>(st.st_size);
        if (o.ec || !through_user_space || o.size > read_with_open || offset >= o.size) return o;
        o.head.resize(o.size - offset);
        std::size_t got = 0;
        while (got < o.head.size()) {
            // Shorter now, or unreadable: the transfer reads on from there and says so.
            net::piece p = read_job(o.file.get(), o.head.data() + got, offset + got, o.head.size() - got)();
            if (p.ec || p.bytes == 0) break;
            got += p.bytes;
        }
        o.head.resize(got);
        return o;
    };
    opened o = co_await on_disk(std::move(job));
    if (o.ec) {
        co_await reply(code::file_unavailable, "Cannot open " + arg + ": " + describe_error(o.ec));
        co_return;
    }
    req->file = std::move(o.file);
    req->size = o.size;
    req->head = std::move(o.head);
    // RANG's end is inclusive; a range past the end of the file stops there.
    if (range && range->second < req->size) req->size = range->second + 1;
    if (range && req->offset >= o.size && o.size > 0) {
        co_await reply(code::file_unavailable, "Range start " + std::to_string(req->offset) +
                                                   " is beyond the end of the file (" + std::to_string(o.size) + " bytes).");
        co_return;
    }
    if (req->offset > req->size) {
        co_await reply(code::file_unavailable, "Restart offset " + std::to_string(req->offset) +
                                                   " is beyond the end of the file (" + std::to_string(req->size) + " bytes).");
        co_return;
    }
    if ((req->offset > 0 || range) && req->ascii) {
        co_await reply(code::file_unavailable, "REST and RANG are supported in binary mode only; send TYPE I.");
        co_return;
    }
    co_await begin_transfer(req);
}

namespace {
// begin_upload's result as one value (the result of a disk-pool job); kept: STOR's partial size
// when the offset is beyond it (for the reply).
struct begun_upload {
    vfs::root::upload upload;
    std::error_code ec;
    std::optional<std::uint64_t> kept;
};
auto begin_upload_job(std::shared_ptr<const vfs::root> fs, std::string vpath, vfs::root::write_mode mode,
                      std::uint64_t offset) {
    return [fs = std::move(fs), vpath = std::move(vpath), mode, offset] {
        begun_upload b;
        b.upload = fs->begin_upload(vpath, mode, offset, b.ec);
        if (b.ec == std::errc::invalid_argument && offset > 0) b.kept = fs->partial_size(vpath);
        return b;
    };
}

vfs::root::write_mode mode_for(bool append, bool unique, std::uint64_t restart) {
    if (unique) return vfs::root::write_mode::unique;
    if (append) return vfs::root::write_mode::append;
    return restart > 0 ? vfs::root::write_mode::at_offset : vfs::root::write_mode::replace;
}
}  // namespace

asio::awaitable<void> session::cmd_stor(const std::string& arg) {
    if (co_await refuse_range_for_upload()) co_return;
    auto req = std::make_shared<transfer_request>();
    req->kind = transfer_kind::stor;
    req->path = vpath(arg);
    req->ascii = ascii_;
    std::uint64_t offset = restart_;
    restart_ = 0;
    auto job = begin_upload_job(fs_, req->path, mode_for(false, false, offset), offset);
    begun_upload b = co_await on_disk(std::move(job));
    const std::error_code ec = b.ec;
    req->upload = std::move(b.upload);
    if (ec == std::errc::invalid_argument && offset > 0) {
        // Built outside co_await: GCC 12 destroys class-type ?: temporaries twice inside it.
        std::string text = "Restart offset " + std::to_string(offset) + " is beyond the ";
        if (b.kept)
            text += std::to_string(*b.kept) + " bytes kept of an interrupted upload of " + arg + ".";
        else
            text += "end of " + arg + ".";
        co_await reply(code::file_unavailable, text);
        co_return;
    }
    if (ec) {
        co_await reply(code::file_unavailable, "Cannot store " + arg + ": " + describe_error(ec));
        co_return;
    }
    co_await begin_transfer(req);
}

asio::awaitable<void> session::cmd_appe(const std::string& arg) {
    if (co_await refuse_range_for_upload()) co_return;
    auto req = std::make_shared<transfer_request>();
    req->kind = transfer_kind::stor;
    req->path = vpath(arg);
    req->ascii = ascii_;
    restart_ = 0;
    auto job = begin_upload_job(fs_, req->path, vfs::root::write_mode::append, 0);
    begun_upload b = co_await on_disk(std::move(job));
    const std::error_code ec = b.ec;
    req->upload = std::move(b.upload);
    if (ec) {
        co_await reply(code::file_unavailable, "Cannot append to " + arg + ": " + describe_error(ec));
        co_return;
    }
    co_await begin_transfer(req);
}

asio::awaitable<void> session::cmd_stou(const std::string& arg) {
    if (co_await refuse_range_for_upload()) co_return;
    auto req = std::make_shared<transfer_request>();
    req->kind = transfer_kind::stor;
    req->ascii = ascii_;
    req->unique = true;
    restart_ = 0;
    auto job = begin_upload_job(fs_, vpath(arg.empty() ? "ftp.upload" : arg), vfs::root::write_mode::unique, 0);
    begun_upload b = co_await on_disk(std::move(job));
    const std::error_code ec = b.ec;
    req->upload = std::move(b.upload);
    if (ec) {
        co_await reply(code::file_unavailable, "Cannot create a unique file: " + describe_error(ec));
        co_return;
    }
    req->path = req->upload.final_name();
    co_await begin_transfer(req);
}

asio::awaitable<void> session::start_listing(const std::string& arg, char style) {
    std::string error;
    int c = 0;
    auto src = co_await open_listing(arg, style, error, c);
    if (!src) {
        co_await reply(c, error);
        co_return;
    }
    auto req = std::make_shared<transfer_request>();
    req->kind = transfer_kind::listing;
    req->listing = std::move(src);
    req->ascii = style != 'M';
    co_await begin_transfer(req);
}

asio::awaitable<void> session::cmd_abor(const std::string&) {
    if (!transferring()) {
        drop_passive();
        data_mode_ = data_mode::none;
        co_await reply(code::data_open_no_transfer, "No transfer to abort.");
        co_return;
    }
    abort_requested_ = true;
    drop_passive();
    interrupt_transfer(true);
    co_await wait_transfer_done();
    co_await reply(code::closing_data, "ABOR successful.");
}

}  // namespace ferry::server
