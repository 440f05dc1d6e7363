#pragma once
// One FTP control connection: reads commands, enforces policy, runs transfers. A session lives
// on one io_context thread (no locks); a transfer runs as a second coroutine of the session so
// that ABOR, STAT and NOOP are answered while data moves.
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "net/data_channel.hpp"
#include "net/idle_timer.hpp"
#include "proto/line_reader.hpp"
#include "proto/listing.hpp"
#include "sandbox/fs_identity.hpp"
#include "server/control_link.hpp"
#include "server/event_log.hpp"
#include "server/policy.hpp"
#include "server/server_context.hpp"
#include "server/session_limits.hpp"
#include "server/work_pool.hpp"
#include "tls/digest.hpp"
#include "tls/stream.hpp"
#include "vfs/root.hpp"

namespace ferry::server {

// TLS 1.3 tickets sent after a control connection's handshake. One is enough: it serves the first
// data connection, and every passive or active reply that sets up another one brings a fresh one
// (reply_data_setup). OpenSSL's default of two costs a second ticket's sealing on every login.
inline constexpr int control_tickets = 1;

class session : public std::enable_shared_from_this<session> {
public:
    // link: the control connection and the network under data connections (control_link.hpp).
    // slot: this connection's place in the session limits (session_limits.hpp), held until close.
    session(std::shared_ptr<const server_context> ctx, std::unique_ptr<control_link> link, bool implicit_tls,
            std::uint64_t id, session_slot slot, const worker_pools& pools);
    ~session();
    // Called once when the session is over: with the exception that ended it, if one did.
    using end_handler = std::function<void(std::exception_ptr)>;
    // Greets the client and serves its commands until the session ends.
    void start(end_handler on_end);

    // Command handlers (the table in commands.cpp names them). Each sends exactly one reply
    // (or a 1xx + final pair for transfers).
    using handler = asio::awaitable<void> (session::*)(const std::string& arg);
    asio::awaitable<void> cmd_user(const std::string& arg);
    asio::awaitable<void> cmd_pass(const std::string& arg);
    asio::awaitable<void> cmd_quit(const std::string& arg);
    asio::awaitable<void> cmd_rein(const std::string& arg);
    asio::awaitable<void> cmd_auth(const std::string& arg);
    asio::awaitable<void> cmd_pbsz(const std::string& arg);
    asio::awaitable<void> cmd_prot(const std::string& arg);
    asio::awaitable<void> cmd_ccc(const std::string& arg);
    asio::awaitable<void> cmd_noop(const std::string& arg);
    asio::awaitable<void> cmd_syst(const std::string& arg);
    asio::awaitable<void> cmd_feat(const std::string& arg);
    asio::awaitable<void> cmd_opts(const std::string& arg);
    asio::awaitable<void> cmd_help(const std::string& arg);
    asio::awaitable<void> cmd_stat(const std::string& arg);
    asio::awaitable<void> cmd_host(const std::string& arg);
    asio::awaitable<void> cmd_type(const std::string& arg);
    asio::awaitable<void> cmd_mode(const std::string& arg);
    asio::awaitable<void> cmd_stru(const std::string& arg);
    asio::awaitable<void> cmd_allo(const std::string& arg);
    asio::awaitable<void> cmd_site(const std::string& arg);
    asio::awaitable<void> cmd_pwd(const std::string& arg);
    asio::awaitable<void> cmd_cwd(const std::string& arg);
    asio::awaitable<void> cmd_cdup(const std::string& arg);
    asio::awaitable<void> cmd_mkd(const std::string& arg);
    asio::awaitable<void> cmd_rmd(const std::string& arg);
    asio::awaitable<void> cmd_dele(const std::string& arg);
    asio::awaitable<void> cmd_rnfr(const std::string& arg);
    asio::awaitable<void> cmd_rnto(const std::string& arg);
    asio::awaitable<void> cmd_size(const std::string& arg);
    asio::awaitable<void> cmd_mdtm(const std::string& arg);
    asio::awaitable<void> cmd_mfmt(const std::string& arg);
    asio::awaitable<void> cmd_mlst(const std::string& arg);
    asio::awaitable<void> cmd_rest(const std::string& arg);
    asio::awaitable<void> cmd_pasv(const std::string& arg);
    asio::awaitable<void> cmd_epsv(const std::string& arg);
    asio::awaitable<void> cmd_port(const std::string& arg);
    asio::awaitable<void> cmd_eprt(const std::string& arg);
    asio::awaitable<void> cmd_abor(const std::string& arg);
    asio::awaitable<void> cmd_list(const std::string& arg);
    asio::awaitable<void> cmd_nlst(const std::string& arg);
    asio::awaitable<void> cmd_mlsd(const std::string& arg);
    asio::awaitable<void> cmd_retr(const std::string& arg);
    asio::awaitable<void> cmd_stor(const std::string& arg);
    asio::awaitable<void> cmd_appe(const std::string& arg);
    asio::awaitable<void> cmd_stou(const std::string& arg);
    // hash_commands.cpp: HASH with OPTS HASH and RANG (draft-bryan-ftpext-hash, draft-bryan-ftp-range)
    // and the older one-algorithm forms.
    asio::awaitable<void> cmd_hash(const std::string& arg);
    asio::awaitable<void> cmd_rang(const std::string& arg);
    asio::awaitable<void> cmd_xsha1(const std::string& arg);
    asio::awaitable<void> cmd_xsha256(const std::string& arg);
    asio::awaitable<void> cmd_xsha512(const std::string& arg);
    asio::awaitable<void> cmd_xmd5(const std::string& arg);
    asio::awaitable<void> cmd_xcrc(const std::string& arg);

private:
    friend struct transfer_job;
    enum class data_mode { none, passive, active };
    enum class transfer_kind { retr, stor, listing };

    // An idle session holds no coroutine: it waits for its socket with a plain handler, and
    // serve_commands exists only while commands are read and answered (bench/: memory per idle
    // session, where the suspended frames were about 1 KiB of 18).
    asio::awaitable<void> run();  // the greeting, then serve_commands
    asio::awaitable<void> serve_commands(std::error_code waited);
    void wait_for_command();
    asio::awaitable<void> finish();  // the goodbye, the drain and the close
    // The completion of every coroutine that carries the session: an exception ends it.
    static auto ended_by(std::shared_ptr<session> self) {
        return [self](std::exception_ptr e) {
            if (e) self->end(e);
        };
    }
    void end(std::exception_ptr e);
    void stop_counting();  // the INACTIVE timer stops, the sessions_open gauge goes down (once)
    end_handler on_end_;
    bool counted_open_ = false;  // in the sessions_open gauge

    asio::awaitable<void> reply(int code, std::string_view text);
    asio::awaitable<bool> read_command(std::string& line);
    asio::awaitable<void> dispatch(const std::string& line);
    asio::awaitable<void> wait_transfer_done();
    void end_login();
    std::string vpath(const std::string& arg) const;
    std::string describe_error(const std::error_code& ec) const;
    // hash_commands.cpp
    asio::awaitable<void> opts_hash(const std::string& choice);
    asio::awaitable<void> legacy_digest(const std::string& arg, tls::digest_algorithm algo);
    // A RANG set for RETR or HASH: uploads refuse it (true: refused, reply sent).
    asio::awaitable<bool> refuse_range_for_upload();
    int error_code_for(const std::error_code& ec) const;
    // Data-connection set-up helpers: each replies itself when it refuses.
    asio::awaitable<bool> refused_after_epsv_all();
    asio::awaitable<bool> open_passive();
    asio::awaitable<void> use_active_target(const char* verb, const asio::ip::address& target, std::uint16_t port);
    // After any TLS handshake on the control connection: logs it and applies SECURE_LOGIN.
    asio::awaitable<bool> control_tls_established();
    asio::awaitable<void> reply_data_setup(int code, std::string_view text);
    enum class login_result { ok, refused, too_many };
    // refused: logged (home folder unusable), the client is told no more than for a wrong
    // password. too_many: MAXSESSIONSPERUSER, the reason in why. Opens the home on the disk pool.
    asio::awaitable<login_result> log_in(const auth::user* u, bool by_certificate, std::string& why);
    // Runs fn() on the disk pool and resumes on this session's thread with its result: every
    // file-system call of a command goes through here, so that a slow or hung file system (NFS,
    // FUSE, a failing disk) stalls only the session that asked, not the others on its event
    // thread. fn gets copies (a vfs::root is safe to share between threads), never the session;
    // the reply is written afterwards, from the session's coroutine. Pass a named lambda, not a
    // temporary inside co_await: GCC 12 destroys such temporaries twice.
    // A system user's jobs run with that user's file-system identity (fs_identity.hpp); if the
    // pool thread cannot take it, the job does not run and the exception ends the command.
    template <class F>
    asio::awaitable<std::invoke_result_t<F&>> on_disk(F fn) {
        return on_pool(pools_.disk, std::move(fn));
    }
    // The same for a transfer's reads and writes (worker_pools::bulk).
    template <class F>
    asio::awaitable<std::invoke_result_t<F&>> on_bulk(F fn) {
        return on_pool(pools_.bulk, std::move(fn));
    }
    template <class F>
    asio::awaitable<std::invoke_result_t<F&>> on_pool(work_pool& pool, F fn) {
        if (!identity_) return pool.run(std::move(fn));
        auto as_user = [fn = std::move(fn), id = identity_]() mutable {
            sandbox::acting_as guard(*id);
            return fn();
        };
        return pool.run(std::move(as_user));
    }
    // LOGINTIMEOUT: armed at connect and REIN, disarmed at login.
    void arm_login_timer();
    // An unused passive listener (or early data connection) is closed after DATACTTIME.
    void arm_passive_expiry();

    // Transfers (transfer.cpp)
    struct transfer_request;
    asio::awaitable<void> begin_transfer(std::shared_ptr<transfer_request> req);
    asio::awaitable<void> run_transfer(std::shared_ptr<transfer_request> req);
    // A passive data connection taken, and its TLS handshake done, as soon as it arrives instead
    // of when the transfer command comes: curl (7.88) reads no further control reply while its
    // data connection's handshake is pending, which costs it 0.2 to 1 s per file with a server
    // that waits for RETR. Only with PROT P on a protected control connection (then every data
    // connection gets no ticket of its own and the client speaks first: its ClientHello).
    struct early_data;
    void start_early_data();
    asio::awaitable<void> take_early_data(std::shared_ptr<early_data> e);
    // Closes the passive listener and drops or interrupts an early data connection.
    void drop_passive();
    // Accepts the passive data connection (PASSIVEDATACONN applies).
    asio::awaitable<std::error_code> accept_passive(asio::ip::tcp::socket& sock);
    // A data connection's TLS handshake (tickets: TLS 1.3 tickets sent on it) and the
    // SECURE_SESSION_REUSE check; on failure why says what went wrong.
    asio::awaitable<std::error_code> protect_data(net::data_channel& data, int tickets, std::string& why);
    // The data connection for req. After CCC a download (RETR, listings) gets a TLS ticket on
    // it: its client reads to the end.
    asio::awaitable<std::error_code> open_data_connection(transfer_request& req, std::unique_ptr<net::data_channel>& out,
                                                          std::string& why);
    asio::awaitable<std::error_code> send_retr(transfer_request& req, net::data_channel& data);
    asio::awaitable<std::error_code> receive_stor(transfer_request& req, net::data_channel& data);
    // Listings (listing.cpp): produced a chunk at a time on the disk pool, in bounded memory.
    struct listing_source;
    // Opens what arg names for a listing in style 'L' (LIST), 'N' (NLST) or 'M' (MLSD); null
    // with error and code set when it cannot be listed.
    asio::awaitable<std::shared_ptr<listing_source>> open_listing(const std::string& arg, char style,
                                                                  std::string& error, int& code);
    asio::awaitable<std::error_code> send_listing(listing_source& src, net::data_channel& data);
    asio::awaitable<void> start_listing(const std::string& arg, char style);
    // Drains and closes a finished data connection beside the session (bounded in time).
    void linger_close(std::unique_ptr<net::data_channel> data);
    // Data connections still draining after their transfer; beyond this many, a transfer drains
    // its own before replying, so that a client that never closes cannot pile them up.
    static constexpr int max_lingering = 4;
    int lingering_ = 0;

    std::shared_ptr<const server_context> ctx_;
    const config::server_settings& cfg_;
    std::shared_ptr<tls::context> tls_;  // fixed for the session's life (see server_context)
    std::unique_ptr<control_link> link_;
    bool implicit_;
    std::uint64_t id_;
    std::string peer_text() const;  // address:port, for the log and STAT
    // The addresses live in the link (no copy here: every idle session pays for its members).
    asio::ip::address peer_addr() const { return link_->peer().address(); }
    asio::ip::address local_addr() const { return link_->local().address(); }
    proto::line_reader reader_;

    // reply writer: one write at a time on the control connection
    bool writing_ = false;
    // Wakes the coroutines waiting for writing_ or running_ to end (each checks its own
    // condition again). Made by the first such wait: idle sessions never need it.
    std::unique_ptr<asio::steady_timer> wake_;
    asio::awaitable<void> wait_for_wake();
    void wake_waiters() {
        if (wake_) wake_->cancel();
    }
    bool write_timed_out_ = false;  // a reply was not written within DATACTTIME (reply())
    bool broken_ = false;  // control connection failed or must close
    bool quit_ = false;
    bool timed_out_ = false;
    std::shared_ptr<net::idle_timer> idle_;

    session_slot slot_;
    const worker_pools& pools_;  // the server's, which outlive its sessions
    std::unique_ptr<asio::steady_timer> login_timer_;  // only until login: idle sessions pay nothing
    bool login_timed_out_ = false;

    // login
    std::string pending_user_;
    const auth::user* user_ = nullptr;
    // A system user (SYSTEMUSERS ON): user_ points at system_user_, and every disk job runs with
    // identity_. Both empty for virtual users.
    std::unique_ptr<auth::user> system_user_;
    std::shared_ptr<const sandbox::fs_identity> identity_;
    int failed_logins_ = 0;
    std::shared_ptr<const vfs::root> fs_;  // the user's home, shared with its other sessions
    std::string cwd_ = "/";
    bool host_seen_ = false;
    const auth::cert_mapping* cert_user_ = nullptr;  // SECURE_LOGIN VERIFY_USER / SECURE_PASSWORD
    std::string client_fingerprint_;  // the control connection's client certificate, if any

    // transfer parameters
    security_state sec_;
    bool ascii_ = true;  // RFC 959: TYPE A until the client says otherwise
    std::uint64_t restart_ = 0;
    // RANG start end (inclusive), for the next RETR or HASH; exclusive with REST.
    std::optional<std::pair<std::uint64_t, std::uint64_t>> range_;
    tls::digest_algorithm hash_algo_ = tls::digest_algorithm::sha256;  // OPTS HASH
    std::string rename_from_;
    bool epsv_all_ = false;
    proto::mlst_facts facts_;
    data_mode data_mode_ = data_mode::none;
    std::shared_ptr<asio::steady_timer> passive_expiry_;
    std::shared_ptr<early_data> early_;
    asio::ip::tcp::endpoint active_target_;

    // the running transfer, if any
    // Set with the 150 reply, cleared at the end of run_transfer. What the transfer moves, its
    // data connection and its bytes so far are in the request (an idle session pays one shared
    // pointer for them).
    std::shared_ptr<transfer_request> running_;
    bool transferring() const { return running_ != nullptr; }
    bool abort_requested_ = false;
    // Ends the running transfer's data connection (or its active-mode connect) at once: aborted
    // (ABOR, DATACTTIME: no byte moves after it, data_channel::abort) or closed (the session's end).
    void interrupt_transfer(bool abort);
    std::string transfer_progress() const;  // for STAT: what it moves and how much so far

    // JSONLOG and METRICS (event_log.hpp, metrics.hpp; written in session.cpp)
    metrics& counters() const { return ctx_->shared->counters; }
    bool events_on() const { return ctx_->shared->jsonlog.enabled(); }
    // An event with this session's number, client address and user (when logged in).
    json_event event(std::string_view name) const;
    void record(const json_event& e) const { ctx_->shared->jsonlog.write(e.text()); }
    // A refused login: counted, and logged as an event with its reason (the client only ever
    // hears "Login incorrect" or the limit it met).
    void login_refused(login_refusal reason, std::string_view user, std::string_view detail);
    // A refused data connection (or the command that asked for one): counted, and an event.
    void data_refused(data_refusal reason, std::string_view detail, std::uint64_t count = 1);
    std::chrono::steady_clock::time_point connected_at_ = std::chrono::steady_clock::now();
    std::string advertised_;  // the address and port of the last PASV/EPSV reply, for the event log
};

}  // namespace ferry::server
