#include "client/session.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>


#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cctype>
#include <utility>
#include <chrono>
#include <ctime>

#include "client/data_address.hpp"
#include "net/deadline.hpp"
#include "net/address_policy.hpp"
#include "net/data_channel.hpp"
#include "net/idle_timer.hpp"
#include "net/passive_listener.hpp"
#include "proto/address.hpp"
#include "proto/ascii.hpp"
#include "proto/reply_code.hpp"

namespace ferry::client {

using asio::ip::tcp;
namespace code = proto::code;

namespace {

constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
std::chrono::seconds secs(unsigned s) { return std::chrono::seconds(s); }

std::string reply_text(const proto::reply& r) {
    std::string t = r.lines.empty() ? std::string() : r.lines.back();
    if (r.lines.size() > 1) t = r.lines.front();
    return std::to_string(r.code) + " " + t;
}

outcome refused(const proto::reply& r, std::string_view what, errc e = errc::server_refused) {
    return outcome::fail(e, std::string(what) + ": the server replied " + reply_text(r), r.code);
}

bool not_implemented(int c) { return c == code::syntax_error || c == code::not_implemented; }

// A reply to a keepalive NOOP sent during a transfer: 200, or 500/502 from servers that do not
// take commands while transferring (Pure-FTPd); never a transfer's own final reply.
bool noop_reply(int c) { return c == code::ok || c == code::superfluous || not_implemented(c); }

std::string normalize_fingerprint(std::string_view fp) {
    std::string out;
    if (fp.size() > 7 && (fp.substr(0, 7) == "SHA256:" || fp.substr(0, 7) == "sha256:")) fp.remove_prefix(7);
    for (char c : fp)
        if (std::isxdigit(static_cast<unsigned char>(c))) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

bool is_ip_literal(const std::string& h) {
    std::error_code ec;
    asio::ip::make_address(h, ec);
    return !ec;
}

// A configured TLS version (TLSMINVERSION, TLSMAXVERSION) as tls sees it; empty for "any".
std::optional<tls::protocol_version> protocol_of(config::tls_version v) {
    switch (v) {
        case config::tls_version::tls1_2: return tls::protocol_version::tls1_2;
        case config::tls_version::tls1_3: return tls::protocol_version::tls1_3;
        case config::tls_version::any: return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

std::string_view method_name(data_method m) {
    switch (m) {
        case data_method::automatic: return "automatic";
        case data_method::epsv: return "EPSV";
        case data_method::pasv: return "PASV";
        case data_method::pasv_ignore_addr: return "PASV ignoring its address";
        case data_method::pasv_as_sent: return "PASV to the address sent";
        case data_method::eprt: return "EPRT";
        case data_method::port: return "PORT";
    }
    return "?";
}

// Completion signal for a coroutine spawned alongside the caller.
struct task_state {
    explicit task_state(asio::any_io_executor ex) : signal(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer signal;
    bool done = false;
    outcome result;
    // While the caller waits for the preliminary reply: if the data connection fails first, the
    // server gets a short grace to say so (425) before that wait is cut short.
    bool waiting_for_reply = false;
    std::optional<net::deadline> grace;
    void finish(outcome o) {
        result = std::move(o);
        done = true;
        signal.cancel();
    }
    asio::awaitable<void> wait() {
        while (!done) co_await signal.async_wait(tuple_awaitable);
    }
};

struct keepalive_state {
    explicit keepalive_state(asio::any_io_executor ex) : timer(ex), signal(ex, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer, signal;
    bool stop = false, done = false;
};

struct session::data_conn {
    bool active = false;
    bool aborted = false;
    std::optional<tcp::socket> socket;                 // passive: connected before the command
    std::unique_ptr<net::passive_listener> listener;  // active: the server connects here
    std::unique_ptr<net::data_channel> channel;  // once connected
    std::string where;  // for messages: "EPSV 127.0.0.1 port 30001"

    // Makes whatever the data set-up waits on fail now.
    void abort() {
        aborted = true;
        std::error_code ec;
        if (listener) listener->close();
        if (channel) channel->abort();
        if (socket) socket->cancel(ec);
    }
    // Ends the connection with a reset, so the server cannot take a cut-off upload for a whole one.
    void reset() {
        std::error_code ec;
        if (listener) listener->close();
        if (channel) {
            channel->reset();
            channel.reset();
        }
        if (socket) {
            socket->set_option(tcp::socket::linger(true, 0), ec);
            socket->close(ec);
        }
    }
};

// Forgets the running transfer's data connection when the transfer's frame ends.
struct current_guard {
    session::data_conn*& slot;
    ~current_guard() { slot = nullptr; }
};

struct session::transfer_state {
    bool final_seen = false;
    proto::reply prelim, final;
    std::shared_ptr<keepalive_state> ka;
};

session::session(asio::any_io_executor ex, config::client_settings settings, trust_options trust, session_hooks hooks)
    : ex_(ex), settings_(std::move(settings)), trust_(std::move(trust)), hooks_(std::move(hooks)), control_(ex) {}

session::~session() {
    slot_.detach();
    control_.close();
}

void session::trace(std::string_view s) const {
    if (hooks_.trace) hooks_.trace(s);
}
void session::warn(std::string_view s) const {
    if (hooks_.warn) hooks_.warn(s);
}

bool session::has_feature(std::string_view name) const { return features_.has(name); }

bool session::ipv6() const {
    return !net::unmapped(control_.peer().address()).is_v4();
}

void session::interrupt() {
    interrupted_ = true;
    if (current_) current_->abort();
    close();
}

void session::close() {
    slot_.detach();
    control_.close();
    logged_in_ = false;
}

// ---------------------------------------------------------------------------------------------
// Connection, TLS and login

asio::awaitable<outcome> session::open(const std::string& host, std::uint16_t port, bool implicit_tls) {
    close();
    if (!resume_seeded_) slot_.clear();  // resume_control_from put the session to offer there
    host_ = host;
    port_ = port;
    implicit_ = implicit_tls;
    sni_ = is_ip_literal(host) ? std::string() : host;  // RFC 6066: no IP literals in SNI
    features_ = {};
    logged_in_ = tls_used_ = prot_private_ = false;
    type_sent_ = 0;
    epsv_refused_ = pasv_refused_ = mlsd_refused_ = pasv_warned_ = ticket_wait_done_ = false;
    noops_pending_ = 0;
    interrupted_ = false;
    tls_description_.clear();
    fingerprint_.clear();

    tls::client_options o;
    o.min_version = protocol_of(settings_.tls_min);
    o.max_version = protocol_of(settings_.tls_max);
    for (const auto& c : settings_.ciphers) {
        std::string& list = c.rfind("TLS_", 0) == 0 ? o.ciphersuites : o.cipher_list;
        if (!list.empty()) list += ':';
        list += c;
    }
    o.ca_file = settings_.ca_file;
    o.no_ca_store = !trust_.fingerprint.empty() && o.ca_file.empty();
    o.cert_file = settings_.cert_file;
    o.key_file = settings_.key_file;
    std::string error;
    tls_ = tls::client_context::make(o, error);
    if (!tls_) co_return outcome::fail(errc::tls_failed, error);

    control_.set_trace(hooks_.trace);
    control_.set_reply_timeout(settings_.reply_timeout);
    if (auto r = co_await control_.connect(host, port, settings_.connect_timeout); !r) co_return r;

    if (settings_.keepalive_seconds) {
        // FTPKEEPALIVE: the kernel probes an idle control connection, which also refreshes NAT
        // and firewall state for it.
        int fd = control_.stream().socket().native_handle();
        int on = 1, idle = static_cast<int>(settings_.keepalive_seconds);
        int intvl = idle / 3 > 0 ? idle / 3 : 1, cnt = 5;
        ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    }

    outcome r;
    if (implicit_tls) {
        if (settings_.secure_implicit_zos) {
            // z/OS servers (SECUREIMPLICITZOS TRUE) send 220 in clear before the handshake.
            if (!(r = co_await read_greeting())) co_return r;
            if (!(r = co_await secure_control(true))) co_return r;
        } else {
            if (!(r = co_await secure_control(true))) co_return r;
            if (!(r = co_await read_greeting())) co_return r;
        }
        co_return outcome::ok();
    }
    if (!(r = co_await read_greeting())) co_return r;
    proto::reply auth;
    if (!(r = co_await control_.command("AUTH TLS", auth))) co_return r;
    if (auth.code == code::security_exchange_ok) co_return co_await secure_control(false);
    if (settings_.require_tls) {
        control_.close();
        co_return outcome::fail(errc::tls_failed,
                                "the server refused AUTH TLS (" + reply_text(auth) +
                                    "): it offers no TLS on this port. Try ftps:// (implicit TLS, usually port 990); "
                                    "--allow-plain continues without TLS, with the password and data readable on the network",
                                auth.code);
    }
    warn("the server refused AUTH TLS (" + reply_text(auth) +
         "); continuing WITHOUT TLS as allowed (--allow-plain / SECURE_FTP ALLOWED): the password and all data cross "
         "the network in clear");
    co_return outcome::ok();
}

asio::awaitable<outcome> session::read_greeting() {
    proto::reply r;
    for (;;) {
        if (auto o = co_await control_.read_reply(r, settings_.connect_timeout); !o) {
            o.ec = make_error_code(errc::connect_failed);
            o.message = "no greeting from the server: " + o.message;
            if (implicit_ && !control_.secure())
                o.message += " (a z/OS server sends its greeting before TLS: SECUREIMPLICITZOS TRUE)";
            co_return o;
        }
        if (r.code == code::ready_in_minutes) continue;  // 120: wait for the 220
        break;
    }
    if (r.code != code::service_ready) {
        control_.close();
        co_return outcome::fail(errc::connect_failed, "the server refused the session: " + reply_text(r), r.code);
    }
    greeting_ = r.text();
    co_return outcome::ok();
}

void session::resume_control_from(session& first) {
    slot_.seed_from(first.slot_);
    resume_seeded_ = true;
}

asio::awaitable<outcome> session::secure_control(bool implicit_tls) {
    tls::session_slot* offer = std::exchange(resume_seeded_, false) ? &slot_ : nullptr;
    if (offer && !slot_.resumable()) offer = nullptr;
    if (offer) trace("--- offering the first session's TLS session for resumption");
    if (auto o = co_await control_.start_tls(*tls_, sni_, settings_.connect_timeout, offer); !o) {
        if (implicit_tls && !settings_.secure_implicit_zos)
            o.message += " (is this an implicit-TLS port? For a z/OS server with SECUREIMPLICITZOS TRUE, set it here too)";
        control_.close();
        co_return o;
    }
    if (auto o = check_server_certificate(); !o) {
        control_.close();
        co_return o;
    }
    tls_used_ = true;
    // A session offered but not resumed belongs to the other connection: its data connections
    // must not offer it (the server would take them for that connection's).
    if (offer && !control_.stream().session_reused()) slot_.clear();
    slot_.attach(control_.stream());
    co_return outcome::ok();
}

outcome session::check_server_certificate() {
    tls::peer_check pc = tls::client_context::check_peer(control_.stream(), host_);
    fingerprint_ = pc.fingerprint;
    tls_description_ = tls::client_context::describe(control_.stream());
    std::string host_port = (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
    trace("--- TLS " + tls_description_ + (control_.stream().session_reused() ? ", session resumed" : "") +
          "; server certificate: " + pc.subject + "; issuer: " + pc.issuer + "; valid until " + pc.not_after + "; " +
          pc.fingerprint);
    if (trust_.insecure) {
        warn("--insecure: the server certificate is NOT verified (" +
             std::string(pc.trusted() ? "it would have passed" : "it would have failed: " +
                                                                     (pc.chain_ok ? std::string("wrong host name") : pc.chain_error)) +
             "). Anyone between you and " + host_port +
             " can read and change this session, password included. Fingerprint: " + pc.fingerprint);
        return outcome::ok();
    }
    if (!trust_.fingerprint.empty()) {
        if (normalize_fingerprint(trust_.fingerprint) == normalize_fingerprint(pc.fingerprint)) {
            trace("--- the certificate matches the pinned fingerprint");
            return outcome::ok();
        }
        return outcome::fail(errc::untrusted_server, "the server certificate of " + host_port + " has the fingerprint " +
                                                         pc.fingerprint + ", not the pinned " + trust_.fingerprint +
                                                         ": refusing to continue (someone may be intercepting the connection)");
    }
    if (pc.trusted()) return outcome::ok();
    std::string why = !pc.has_cert ? pc.chain_error
                      : !pc.chain_ok ? "it is not trusted: " + pc.chain_error
                                     : "it does not name the host " + host_;
    std::string extra;
    if (pc.has_cert && hooks_.accept_untrusted && hooks_.accept_untrusted(pc, host_port, extra)) return outcome::ok();
    std::string msg = "the server certificate of " + host_port + " is refused: " + why + ".\n  subject:     " +
                      pc.subject + "\n  issuer:      " + pc.issuer + "\n  fingerprint: " + pc.fingerprint;
    if (!extra.empty()) msg += "\n" + extra;
    msg += "\nIf you trust this server: --ca FILE (its CA, or the certificate itself), --fingerprint " +
           (pc.fingerprint.empty() ? std::string("SHA256:...") : pc.fingerprint) +
           " to pin it, or, on a test network only, --insecure.";
    return outcome::fail(errc::untrusted_server, msg);
}

asio::awaitable<outcome> session::login(const std::string& user, const std::string& password, const std::string& account) {
    if (!connected()) co_return outcome::fail(errc::not_connected, "not connected");
    proto::reply r;
    outcome o;
    if (!(o = co_await control_.command("USER " + user, r))) co_return o;
    if (r.code == code::need_password) {
        if (!(o = co_await control_.command("PASS " + password, r))) co_return o;
    }
    if (r.code == code::need_account) {
        if (account.empty())
            co_return outcome::fail(errc::login_failed, "the server wants an account (ACCT) for " + user, r.code);
        if (!(o = co_await control_.command("ACCT " + account, r))) co_return o;
    }
    if (r.code / 100 != 2)
        co_return outcome::fail(errc::login_failed, "login as '" + user + "' refused: " + reply_text(r), r.code);
    logged_in_ = true;

    if (tls_used_) {
        bool want_private = settings_.dataconn == config::data_protection::private_;
        if (auto p = co_await set_protection(want_private); !p) {
            // Implicit TLS implies PROT P (RFC 4217 section 4 predecessors, z/OS, IBM i): a server
            // that refuses the commands there still protects data.
            if (!(implicit_ && want_private)) co_return p;
            prot_private_ = true;
            trace("--- implicit TLS: data connections are protected although PBSZ/PROT were refused");
        }
    }
    outcome feat = co_await control_.command("FEAT", r);
    if (feat) features_ = proto::feature_set(r);
    if (!connected()) co_return outcome::fail(errc::connection_closed, "the server closed the connection after login");
    if (has_feature("UTF8")) {
        outcome utf8 = co_await control_.command("OPTS UTF8 ON", r);  // a refusal changes nothing
        (void)utf8;
    }
    if (auto t = co_await ensure_type(ascii_); !t) co_return t;
    co_return outcome::ok();
}

asio::awaitable<outcome> session::set_protection(bool private_data) {
    if (!logged_in()) co_return outcome::fail(errc::not_connected, "not logged in");
    if (!tls_used_) {
        if (!private_data) co_return outcome::ok();
        co_return outcome::fail(errc::unsupported, "PROT P needs a TLS session; this one is not secured");
    }
    proto::reply r;
    outcome o;
    if (!(o = co_await control_.command("PBSZ 0", r))) co_return o;
    if (r.code / 100 != 2) co_return refused(r, "PBSZ 0");
    if (!(o = co_await control_.command(private_data ? "PROT P" : "PROT C", r))) co_return o;
    if (r.code / 100 != 2) {
        outcome f = refused(r, private_data ? "PROT P" : "PROT C");
        f.message += private_data ? " (--prot C / SECURE_DATACONN CLEAR transfers data unencrypted)"
                                  : " (the server requires protected data connections)";
        co_return f;
    }
    prot_private_ = private_data;
    co_return outcome::ok();
}

asio::awaitable<outcome> session::clear_command_channel() {
    if (!logged_in()) co_return outcome::fail(errc::not_connected, "log in first: CCC is sent after login");
    if (!control_.secure()) co_return outcome::fail(errc::unsupported, "the control connection is not TLS-protected; nothing to clear");
    if (settings_.tls_rfc == config::tls_rfc_level::draft)
        co_return outcome::fail(errc::unsupported,
                                "CCC needs TLSRFCLEVEL RFC4217 or CCCNONOTIFY (locsite TLSRFCLEVEL=RFC4217, or --ccc), "
                                "matching the server's TLSRFCLEVEL");
    proto::reply r;
    if (auto o = co_await control_.command("CCC", r); !o) co_return o;
    if (r.code / 100 != 2) {
        outcome f = refused(r, "CCC");
        f.message += " (the server must allow CCC; a z/OS server needs TLSRFCLEVEL RFC4217 or CCCNONOTIFY)";
        co_return f;
    }
    slot_.detach();  // the control SSL goes away; its session stays for the data connections
    bool notify = settings_.tls_rfc == config::tls_rfc_level::rfc4217;
    if (auto o = co_await control_.end_tls(notify, 15); !o) {
        control_.close();
        co_return o;
    }
    trace(std::string("--- CCC: the control connection is now in clear text (") +
          (notify ? "close_notify exchanged" : "no close_notify, CCCNONOTIFY") + "); data connections stay " +
          (prot_private_ ? "protected (PROT P)" : "in clear (PROT C)"));
    // Firewall FTP helpers (Linux nf_conntrack_ftp and others) read only a packet that starts
    // right after a line end they have seen. After TLS records, the first clear line in each
    // direction merely resynchronises them, so a PASV reply or PORT command sent next would go
    // unread and its data connection blocked. One NOOP round trip is that first line.
    co_return co_await simple("NOOP");
}

asio::awaitable<outcome> session::set_ascii(bool a) {
    ascii_ = a;
    if (!logged_in()) co_return outcome::ok();
    co_return co_await ensure_type(a);
}

asio::awaitable<outcome> session::ensure_type(bool a) {
    int want = a ? 'A' : 'I';
    if (type_sent_ == want) co_return outcome::ok();
    proto::reply r;
    if (auto o = co_await control_.command(a ? "TYPE A" : "TYPE I", r); !o) co_return o;
    if (r.code / 100 != 2) co_return refused(r, a ? "TYPE A" : "TYPE I");
    type_sent_ = want;
    co_return outcome::ok();
}

asio::awaitable<void> session::quit() {
    if (control_.is_open()) {
        proto::reply r;
        outcome sent = co_await control_.send("QUIT");
        if (sent) {
            outcome bye = co_await control_.read_reply(r, 5);
            (void)bye;
        }
        if (control_.is_open()) {
            net::deadline d(control_.stream().socket(), secs(5));
            co_await control_.stream().close_gracefully();
        }
    }
    close();
}

// ---------------------------------------------------------------------------------------------
// Simple commands

asio::awaitable<outcome> session::simple(const std::string& line, proto::reply* out) {
    if (!logged_in()) co_return outcome::fail(errc::not_connected, "not connected (use 'open')");
    proto::reply r;
    if (auto o = co_await control_.command(line, r); !o) co_return o;
    if (out) *out = r;
    if (r.code / 100 != 2) co_return refused(r, line);
    co_return outcome::ok();
}

asio::awaitable<outcome> session::raw(const std::string& line, proto::reply& r) {
    if (!connected()) co_return outcome::fail(errc::not_connected, "not connected (use 'open')");
    if (auto o = co_await control_.command(line, r); !o) co_return o;
    while (r.code / 100 == 1)
        if (auto o = co_await control_.read_reply(r); !o) co_return o;
    co_return outcome::ok();
}

asio::awaitable<outcome> session::pwd(std::string& out) {
    proto::reply r;
    if (auto o = co_await simple("PWD", &r); !o) co_return o;
    out = proto::parse_quoted_pathname(r.text());
    co_return outcome::ok();
}

asio::awaitable<outcome> session::cwd(const std::string& path) { co_return co_await simple("CWD " + path); }

asio::awaitable<outcome> session::rename(const std::string& from, const std::string& to) {
    if (!logged_in()) co_return outcome::fail(errc::not_connected, "not connected (use 'open')");
    proto::reply r;
    if (auto o = co_await control_.command("RNFR " + from, r); !o) co_return o;
    if (r.code != code::pending_more_info) co_return refused(r, "RNFR " + from);
    co_return co_await simple("RNTO " + to);
}

asio::awaitable<outcome> session::size(const std::string& path, std::uint64_t& out) {
    if (auto o = co_await ensure_type(false); !o) co_return o;
    proto::reply r;
    if (auto o = co_await simple("SIZE " + path, &r); !o) co_return o;
    std::string t = r.text();
    out = 0;
    std::size_t i = 0;
    while (i < t.size() && t[i] == ' ') ++i;
    if (i >= t.size() || !std::isdigit(static_cast<unsigned char>(t[i])))
        co_return outcome::fail(errc::protocol_error, "SIZE: cannot read the size in '" + t + "'");
    for (; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i) out = out * 10 + static_cast<std::uint64_t>(t[i] - '0');
    co_return outcome::ok();
}

// ---------------------------------------------------------------------------------------------
// Data connections

data_method session::choose_method() const {
    if (forced_) return *forced_;
    bool v6 = ipv6();
    if (settings_.fwfriendly) {
        if (v6 || pasv_refused_ || (settings_.epsv4 && !epsv_refused_)) return data_method::epsv;
        return settings_.passive_ignore_addr ? data_method::pasv_ignore_addr : data_method::pasv;
    }
    return (v6 || settings_.epsv4) ? data_method::eprt : data_method::port;
}

asio::awaitable<outcome> session::wait_for_ticket() {
    // TLS 1.3 servers send session tickets after the handshake; OpenSSL reads them only while
    // reading the control connection. Servers that insist on resumption (vsftpd, ProFTPD,
    // FileZilla Server) refuse a data connection that cannot offer one, so make sure it is here.
    if (!control_.secure() || slot_.resumable() || ticket_wait_done_) co_return outcome::ok();
    ticket_wait_done_ = true;
    trace("--- no resumable TLS session yet: a NOOP round trip reads the server's session ticket");
    if (auto o = co_await simple("NOOP"); !o) co_return o;
    if (!slot_.resumable())
        trace("--- the server sent no resumable TLS session: data connections use new TLS sessions");
    co_return outcome::ok();
}

asio::awaitable<outcome> session::passive(data_conn& dc, data_method m, int& refused_code) {
    proto::reply r;
    tcp::endpoint target;
    const auto peer_addr = net::unmapped(control_.peer().address());
    const std::string peer = peer_addr.to_string();
    if (m == data_method::epsv) {
        if (auto o = co_await control_.command("EPSV", r); !o) co_return o;
        if (r.code != code::entering_extended_passive) {
            refused_code = r.code;
            co_return refused(r, "EPSV", errc::data_connection_failed);
        }
        auto port = proto::parse_epsv_reply(r.text());
        if (!port) co_return outcome::fail(errc::protocol_error, "cannot read the port in the EPSV reply '" + r.text() + "'");
        target = tcp::endpoint(control_.peer().address(), *port);
        dc.where = "EPSV, " + peer + " port " + std::to_string(*port);
    } else {
        if (ipv6()) co_return outcome::fail(errc::data_connection_failed, "PASV works over IPv4 only; this session is IPv6 (use EPSV)");
        if (auto o = co_await control_.command("PASV", r); !o) co_return o;
        if (r.code != code::entering_passive) {
            refused_code = r.code;
            co_return refused(r, "PASV", errc::data_connection_failed);
        }
        auto hp = proto::parse_pasv_reply(r.text());
        if (!hp) co_return outcome::fail(errc::protocol_error, "cannot read the address in the PASV reply '" + r.text() + "'");
        last_pasv_address_ = hp->host;
        std::string host = hp->host;
        if (m != data_method::pasv_as_sent) {
            auto t = choose_pasv_target(peer, hp->host,
                                        m == data_method::pasv_ignore_addr || settings_.passive_ignore_addr);
            if (!t.warning.empty() && !pasv_warned_) {
                warn(t.warning);
                pasv_warned_ = true;
            } else if (t.replaced) {
                trace("--- PASV address " + hp->host + " replaced by the server's address " + t.host);
            }
            host = t.host;
        }
        std::error_code ec;
        auto addr = asio::ip::make_address(host, ec);
        if (ec) co_return outcome::fail(errc::protocol_error, "bad address in the PASV reply: " + host);
        target = tcp::endpoint(addr, hp->port);
        dc.where = std::string(method_name(m)) + ", " + host + " port " + std::to_string(hp->port);
    }
    tcp::socket s(ex_);
    std::error_code ec;
    bool timed_out;
    {
        net::deadline d(s, secs(settings_.data_timeout));
        s.open(target.protocol(), ec);
        if (!ec) {
            auto [cec] = co_await s.async_connect(target, tuple_awaitable);
            ec = cec;
        }
        timed_out = d.fired();
    }
    if (timed_out || ec) {
        std::string why = timed_out ? "no answer within " + std::to_string(settings_.data_timeout) + " s (DATACTTIME)"
                                    : ec.message();
        std::string hint = m == data_method::epsv
                               ? "A firewall may block the data port; try PASV (EPSV4 FALSE), --active, or 'ferry probe URL'"
                               : "A firewall or NAT may be in the way; try --epsv, --ignore-pasv-addr, --active, or 'ferry probe URL'";
        co_return outcome::fail(errc::data_connection_failed,
                                "cannot open the data connection (" + dc.where + "): " + why + ". " + hint);
    }
    s.set_option(tcp::no_delay(true), ec);
    dc.socket = std::move(s);
    last_data_note_ = dc.where;
    co_return outcome::ok();
}

asio::awaitable<outcome> session::active(data_conn& dc, data_method m, int& refused_code) {
    const auto local = control_.local().address();
    const auto local_plain = net::unmapped(local);
    if (m == data_method::port && !local_plain.is_v4())
        co_return outcome::fail(errc::data_connection_failed, "PORT works over IPv4 only; this session is IPv6 (use EPRT)");
    dc.listener = std::make_unique<net::passive_listener>(ex_);
    if (auto ec = dc.listener->open(local, 0, 0))
        co_return outcome::fail(errc::data_connection_failed, "cannot listen for the active data connection on " +
                                                                  local_plain.to_string() + ": " + ec.message());
    proto::host_port hp{local_plain.to_string(), dc.listener->port(), local_plain.is_v4() ? 1 : 2};
    std::string cmd;
    if (m == data_method::eprt) {
        cmd = "EPRT " + proto::format_eprt_arg(hp);
    } else {
        auto arg = proto::format_port_arg(hp);
        if (!arg) co_return outcome::fail(errc::data_connection_failed, "cannot express " + hp.host + " in a PORT command");
        cmd = "PORT " + *arg;
    }
    proto::reply r;
    if (auto o = co_await control_.command(cmd, r); !o) co_return o;
    if (r.code / 100 != 2) {
        refused_code = r.code;
        co_return refused(r, m == data_method::eprt ? "EPRT" : "PORT", errc::data_connection_failed);
    }
    dc.active = true;
    dc.where = std::string(method_name(m)) + ", listening on " + hp.host + " port " + std::to_string(hp.port);
    last_data_note_ = dc.where;
    co_return outcome::ok();
}

asio::awaitable<outcome> session::prepare_data(data_conn& dc) {
    if (!logged_in()) co_return outcome::fail(errc::not_connected, "not connected (use 'open')");
    current_ = &dc;
    if (prot_private_)
        if (auto o = co_await wait_for_ticket(); !o) co_return o;
    const data_method m = choose_method();
    int refused_code = 0;
    outcome o;
    switch (m) {
        case data_method::epsv:
            o = co_await passive(dc, m, refused_code);
            if (!o && not_implemented(refused_code) && !forced_ && !ipv6()) {
                epsv_refused_ = true;
                trace("--- the server has no EPSV; using PASV");
                refused_code = 0;
                o = co_await passive(dc, settings_.passive_ignore_addr ? data_method::pasv_ignore_addr : data_method::pasv,
                                     refused_code);
            }
            break;
        case data_method::pasv:
        case data_method::pasv_ignore_addr:
        case data_method::pasv_as_sent:
            o = co_await passive(dc, m, refused_code);
            if (!o && not_implemented(refused_code) && !forced_) {
                pasv_refused_ = true;
                trace("--- the server has no PASV; using EPSV");
                refused_code = 0;
                o = co_await passive(dc, data_method::epsv, refused_code);
            }
            break;
        case data_method::eprt:
        case data_method::port:
            o = co_await active(dc, m, refused_code);
            if (!o && not_implemented(refused_code) && !forced_ && !ipv6()) {
                data_method other = m == data_method::eprt ? data_method::port : data_method::eprt;
                trace("--- the server refused " + std::string(method_name(m)) + "; trying " + std::string(method_name(other)));
                refused_code = 0;
                o = co_await active(dc, other, refused_code);
            }
            break;
        case data_method::automatic:
            break;
    }
    co_return o;
}

asio::awaitable<void> session::setup_data(data_conn& dc, std::shared_ptr<task_state> st) {
    outcome result;
    auto failed = [this, &st](outcome o) {
        if (st->waiting_for_reply && control_.is_open()) st->grace.emplace(control_.stream().socket(), secs(3));
        st->finish(std::move(o));
    };
    try {
        net::deadline d(ex_, secs(settings_.data_timeout), [&dc] { dc.abort(); });
        if (dc.active) {
            tcp::socket s(ex_);
            net::refused_connections refused;
            // SECURITY: connection stealing: only the server we talk to may connect to our port.
            auto ec = co_await dc.listener->accept(s, control_.peer().address(), refused);
            if (refused.count)
                warn("refused " + std::to_string(refused.count) +
                     " data connection(s) from addresses other than the server's, the last from " +
                     refused.last.to_string());
            if (ec || dc.aborted) {
                failed(outcome::fail(
                    errc::data_connection_failed,
                    d.fired() ? "the server did not connect to our data port within " + std::to_string(settings_.data_timeout) +
                                    " s (" + dc.where + "): a firewall or NAT probably blocks active mode; use passive mode (--passive, FWFRIENDLY TRUE)"
                              : "the active data connection failed: " + (ec ? ec.message() : std::string("aborted"))));
                co_return;
            }
            s.set_option(tcp::no_delay(true), ec);
            dc.channel = std::make_unique<net::data_channel>(std::move(s));
        }
        if (prot_private_) {
            dc.channel->stream().set_bulk_receive();  // a data connection: nothing reads behind OpenSSL
            auto ec = co_await dc.channel->protect_as_client(*tls_, sni_, &slot_);
            if (ec || dc.aborted) {
                std::string why = d.fired() ? "timed out after " + std::to_string(settings_.data_timeout) + " s"
                                  : dc.aborted ? std::string("aborted")
                                  : dc.channel->tls_error().empty() ? ec.message() : dc.channel->tls_error();
                failed(outcome::fail(errc::data_connection_failed,
                                         "the TLS handshake on the data connection (" + dc.where + ") failed: " + why));
                co_return;
            }
            slot_.listen(dc.channel->stream());
            last_resumed_ = dc.channel->stream().session_reused();
            trace("--- data connection: TLS " + tls::client_context::describe(dc.channel->stream()) +
                  (last_resumed_ ? ", session resumed" : ", NEW session (not resumed)"));
            if (!last_resumed_) {
                // SECURITY: data connection theft: without resumption nothing ties this connection
                // to the server we verified, except that it shows the same certificate.
                auto pc = tls::client_context::check_peer(dc.channel->stream(), host_);
                if (pc.fingerprint != fingerprint_) {
                    failed(outcome::fail(errc::untrusted_server,
                                             "the data connection shows another certificate (" + pc.fingerprint +
                                                 ") than the control connection (" + fingerprint_ + "): refused"));
                    co_return;
                }
            }
        }
        result = outcome::ok();
    } catch (const std::exception& e) {
        result = outcome::fail(errc::data_connection_failed, std::string("data connection: ") + e.what());
    }
    st->finish(std::move(result));
}

asio::awaitable<outcome> session::start_transfer(const std::string& command, data_conn& dc, transfer_state& ts) {
    if (dc.socket) {
        dc.channel = std::make_unique<net::data_channel>(std::move(*dc.socket));
        dc.socket.reset();
    }
    if (auto o = co_await control_.send(command); !o) {
        dc.reset();
        co_return o;
    }
    // The server may answer 150 before or after it accepts the data connection (and before or
    // after its side of the TLS handshake), so both run at the same time.
    auto st = std::make_shared<task_state>(ex_);
    asio::co_spawn(ex_, setup_data(dc, st), asio::detached);
    proto::reply r;
    st->waiting_for_reply = true;
    outcome o = co_await control_.read_reply(r);
    st->waiting_for_reply = false;
    const bool cut_short = st->grace && st->grace->fired();
    st->grace.reset();
    if (!o) {
        const bool never_connected = dc.active && !dc.channel;
        dc.abort();
        co_await st->wait();
        dc.reset();
        if (cut_short) {
            outcome f = st->result;
            f.message += " (no reply from the server either; connection closed)";
            co_return f;
        }
        if (never_connected && o.ec == make_error_code(errc::timeout))
            co_return outcome::fail(errc::data_connection_failed,
                                    "neither a data connection nor a reply came from the server (" + dc.where +
                                        "): a firewall or NAT probably blocks active mode; use passive mode (--passive, "
                                        "FWFRIENDLY TRUE). " + o.message);
        co_return o;
    }
    if (r.code / 100 == 1) {
        ts.prelim = r;
    } else if (r.code / 100 == 2) {
        // Done without a 150: an empty transfer. The data connection may never come.
        ts.final_seen = true;
        ts.final = r;
        net::deadline grace(ex_, secs(3), [&dc] { dc.abort(); });
        co_await st->wait();
        if (!st->result) dc.reset();
        co_return outcome::ok();
    } else {
        dc.abort();
        co_await st->wait();
        dc.reset();
        co_return refused(r, command);
    }
    co_await st->wait();
    if (!st->result) {
        dc.reset();
        outcome f = st->result;
        proto::reply fr;
        outcome got = co_await control_.read_reply(fr, std::min(settings_.data_timeout, 15u));
        if (got) f.message += " (server: " + reply_text(fr) + ")";
        ts.final_seen = true;
        co_return f;
    }
    co_return outcome::ok();
}

asio::awaitable<void> session::abort_transfer(data_conn& dc, transfer_state& ts) {
    dc.reset();
    co_await stop_keepalive(ts);
    if (!control_.is_open()) co_return;
    if (!ts.final_seen) {
        // ABOR (RFC 959 4.1.3) and its replies: usually 426 then 226, or just 226 / 225.
        outcome sent = co_await control_.send("ABOR");
        if (!sent) co_return;
        proto::reply r;
        for (int i = 0; i < 3; ++i) {
            outcome got = co_await control_.read_reply(r, 15);
            if (!got) co_return;
            if (noops_pending_ > 0 && noop_reply(r.code)) {
                --noops_pending_;
                --i;
                continue;
            }
            if (!ts.final_seen) {
                ts.final_seen = true;
                ts.final = r;
            }
            if (r.code / 100 == 2 || r.code / 100 == 5) break;
        }
        // A reply to ABOR may still be on its way; a NOOP round trip puts replies back in step.
        outcome noop = co_await control_.send("NOOP");
        if (!noop) co_return;
        ++noops_pending_;
    }
    proto::reply r;
    for (int i = 0; i < 5 && noops_pending_ > 0; ++i) {
        outcome got = co_await control_.read_reply(r, 15);
        if (!got) co_return;
        if (noop_reply(r.code)) --noops_pending_;
    }
}

asio::awaitable<outcome> session::finish_transfer(transfer_state& ts, outcome data_result, const std::string& what) {
    proto::reply r;
    if (!ts.final_seen) {
        for (;;) {
            if (auto o = co_await control_.read_reply(r); !o) co_return o;
            if (noops_pending_ > 0 && noop_reply(r.code)) {
                --noops_pending_;
                continue;
            }
            if (r.code / 100 == 1) continue;  // a second preliminary reply
            break;
        }
        ts.final_seen = true;
        ts.final = r;
    }
    while (noops_pending_ > 0) {
        proto::reply n;
        if (auto o = co_await control_.read_reply(n, 15); !o) co_return o;
        --noops_pending_;
    }
    if (ts.final.code / 100 != 2) {
        outcome f = refused(ts.final, what, errc::transfer_failed);
        if (!data_result) f.message = data_result.message + "; " + f.message;
        co_return f;
    }
    co_return data_result;
}

asio::awaitable<void> session::stop_keepalive(transfer_state& ts) {
    if (!ts.ka) co_return;
    auto ka = std::move(ts.ka);
    ka->stop = true;
    ka->timer.cancel();
    while (!ka->done) co_await ka->signal.async_wait(tuple_awaitable);
}

asio::awaitable<void> session::keepalive_loop(std::shared_ptr<keepalive_state> ka) {
    const unsigned seconds = settings_.keepalive_seconds;
    while (!ka->stop) {
        ka->timer.expires_after(secs(seconds));
        auto [ec] = co_await ka->timer.async_wait(tuple_awaitable);  // cancelled by stop_keepalive()
        (void)ec;
        if (ka->stop) break;
        trace("--- FTPKEEPALIVE: the control connection has been idle " + std::to_string(seconds) +
              " s during the transfer");
        outcome sent = co_await control_.send("NOOP");
        if (!sent) break;
        ++noops_pending_;
    }
    ka->done = true;
    ka->signal.cancel();
}

void session::start_keepalive(transfer_state& ts) {
    if (!settings_.keepalive_seconds) return;
    ts.ka = std::make_shared<keepalive_state>(ex_);
    asio::co_spawn(ex_, keepalive_loop(ts.ka), asio::detached);
}

asio::awaitable<outcome> session::receive(data_conn& dc, data_sink& sink, std::uint64_t offset, std::uint64_t total,
                                          const progress_fn& progress) {
    net::data_channel& ch = *dc.channel;
    auto idle = net::idle_timer::start(ex_, secs(settings_.data_timeout), [&dc] { dc.abort(); });
    net::idle_timer_guard guard{idle};
    std::uint64_t done = offset;
    ch.set_ascii(ascii_ && type_sent_ == 'A');
    ch.on_moved([&](std::size_t n) {
        idle->touch();
        done += n;
        if (progress) progress(done, total);
    });
    std::string local_error;
    auto consume = [&sink, &local_error](const char* p, std::size_t n) -> asio::awaitable<std::error_code> {
        if (!sink.write(p, n, local_error)) co_return std::make_error_code(std::errc::io_error);
        co_return std::error_code{};
    };
    const std::error_code ec = co_await ch.receive_all(consume);
    if (!local_error.empty()) co_return outcome::fail(errc::local_file_error, local_error);
    if (ec) {
        if (interrupted_) co_return outcome::fail(errc::transfer_failed, "the transfer was interrupted");
        co_return outcome::fail(errc::transfer_failed,
                                idle->fired() ? "the transfer stalled: no data for " + std::to_string(settings_.data_timeout) +
                                                    " s (DATACTTIME)"
                                              : "the data connection failed: " +
                                                    (ch.tls_error().empty() ? ec.message() : ch.tls_error()));
    }
    if (ch.secure() && ch.stream().truncated())
        trace("--- the server closed the data connection without TLS close_notify");
    co_await ch.finish_download(secs(5));
    if (progress) progress(done, total);
    co_return outcome::ok();
}

asio::awaitable<outcome> session::send_data(data_conn& dc, data_source& source, std::uint64_t offset,
                                            const progress_fn& progress) {
    net::data_channel& ch = *dc.channel;
    auto idle = net::idle_timer::start(ex_, secs(settings_.data_timeout), [&dc] { dc.abort(); });
    net::idle_timer_guard guard{idle};
    const std::uint64_t total = source.size();
    std::uint64_t done = offset;
    ch.set_ascii(ascii_ && type_sent_ == 'A');
    ch.on_moved([&](std::size_t n) {
        idle->touch();
        done += n;  // after TYPE A conversion: may pass the file's size, shown as its size
        if (progress) progress(std::min(done, total), total);
    });
    std::string local_error;
    auto produce = [&source, &local_error](char* buf, std::size_t capacity) -> asio::awaitable<net::piece> {
        const long n = source.read(buf, capacity, local_error);
        if (n < 0) co_return net::piece{0, std::make_error_code(std::errc::io_error)};
        co_return net::piece{static_cast<std::size_t>(n), {}};
    };
    const std::error_code ec = co_await ch.send_all(produce);
    if (!local_error.empty()) co_return outcome::fail(errc::local_file_error, local_error);
    if (ec && interrupted_) co_return outcome::fail(errc::transfer_failed, "the transfer was interrupted");
    if (ec)
        co_return outcome::fail(errc::transfer_failed,
                                idle->fired() ? "the transfer stalled: the server took no data for " +
                                                    std::to_string(settings_.data_timeout) + " s (DATACTTIME)"
                                              : "the data connection failed while sending: " +
                                                    (ch.tls_error().empty() ? ec.message() : ch.tls_error()));
    // close_notify, then FIN, then the server's close: the end of the file.
    idle->stop();
    co_await ch.finish_upload(secs(settings_.data_timeout));
    co_return outcome::ok();
}

// ---------------------------------------------------------------------------------------------
// Transfers

asio::awaitable<outcome> session::retrieve(const std::string& path, data_sink& sink, std::uint64_t offset,
                                           std::uint64_t total, progress_fn progress) {
    current_guard forget{current_};
    if (!logged_in()) co_return outcome::fail(errc::not_connected, "not connected (use 'open')");
    if (offset && ascii_)
        co_return outcome::fail(errc::unsupported, "resuming works in binary mode only (the sizes differ in ASCII mode)");
    if (auto o = co_await ensure_type(ascii_); !o) co_return o;
    data_conn dc;
    if (auto o = co_await prepare_data(dc); !o) co_return o;
    if (offset) {
        proto::reply r;
        if (auto o = co_await control_.command("REST " + std::to_string(offset), r); !o) co_return o;
        if (r.code != code::pending_more_info) {
            dc.reset();
            co_return refused(r, "REST " + std::to_string(offset) + " (resume)");
        }
    }
    transfer_state ts;
    if (auto o = co_await start_transfer("RETR " + path, dc, ts); !o) co_return o;
    if (!dc.channel) co_return co_await finish_transfer(ts, outcome::ok(), "RETR " + path);
    if (!total) total = proto::parse_transfer_size(ts.prelim.text());  // progress only
    start_keepalive(ts);
    outcome data = co_await receive(dc, sink, offset, total, progress);
    co_await stop_keepalive(ts);
    if (!data) {
        co_await abort_transfer(dc, ts);
        if (ts.final_seen && ts.final.code) data.message += " (server: " + reply_text(ts.final) + ")";
        co_return data;
    }
    co_return co_await finish_transfer(ts, data, "RETR " + path);
}

asio::awaitable<outcome> session::store(const std::string& path, data_source& source, bool append, std::uint64_t offset,
                                        progress_fn progress) {
    current_guard forget{current_};
    if (!logged_in()) co_return outcome::fail(errc::not_connected, "not connected (use 'open')");
    if (append && offset && ascii_)
        co_return outcome::fail(errc::unsupported, "resuming works in binary mode only (the sizes differ in ASCII mode)");
    if (auto o = co_await ensure_type(ascii_); !o) co_return o;
    data_conn dc;
    if (auto o = co_await prepare_data(dc); !o) co_return o;
    transfer_state ts;
    std::string cmd = (append ? "APPE " : "STOR ") + path;
    if (auto o = co_await start_transfer(cmd, dc, ts); !o) co_return o;
    if (!dc.channel) co_return co_await finish_transfer(ts, outcome::ok(), cmd);
    start_keepalive(ts);
    outcome data = co_await send_data(dc, source, offset, progress);
    co_await stop_keepalive(ts);
    if (!data) {
        co_await abort_transfer(dc, ts);
        if (ts.final_seen && ts.final.code) data.message += " (server: " + reply_text(ts.final) + ")";
        co_return data;
    }
    co_return co_await finish_transfer(ts, data, cmd);
}

asio::awaitable<outcome> session::list(const std::string& path, proto::listing& out, std::string* raw_text,
                                       bool force_list) {
    current_guard forget{current_};
    if (!logged_in()) co_return outcome::fail(errc::not_connected, "not connected (use 'open')");
    bool mlsd = !force_list && !mlsd_refused_ && has_feature("MLST");
    for (;;) {
        memory_sink sink;
        data_conn dc;
        if (auto o = co_await prepare_data(dc); !o) co_return o;
        transfer_state ts;
        std::string cmd = std::string(mlsd ? "MLSD" : "LIST") + (path.empty() ? "" : " " + path);
        outcome o = co_await start_transfer(cmd, dc, ts);
        if (!o) {
            if (mlsd && not_implemented(o.reply_code)) {
                mlsd_refused_ = true;
                mlsd = false;
                continue;
            }
            if (mlsd && o.reply_code / 100 == 5 && !path.empty()) {
                // MLSD names folders only; a file gets its facts from MLST.
                proto::reply r;
                outcome mlst = co_await control_.command("MLST " + path, r);
                if (mlst && r.code / 100 == 2 && r.lines.size() >= 2) {
                    if (auto e = proto::parse_mlsx_line(r.lines[1])) {
                        out = {};
                        out.entries.push_back(*e);
                        if (raw_text) *raw_text = r.lines[1] + "\n";
                        co_return outcome::ok();
                    }
                }
            }
            co_return o;
        }
        outcome data = outcome::ok();
        if (dc.channel) {
            start_keepalive(ts);
            bool saved = ascii_;
            ascii_ = false;  // listings are parsed with either line end; no conversion
            data = co_await receive(dc, sink, 0, 0, nullptr);
            ascii_ = saved;
            co_await stop_keepalive(ts);
            if (!data) {
                co_await abort_transfer(dc, ts);
                co_return data;
            }
        }
        if (auto f = co_await finish_transfer(ts, data, cmd); !f) co_return f;
        out = proto::parse_listing(sink.data, mlsd, static_cast<std::int64_t>(std::time(nullptr)));
        if (raw_text) *raw_text = std::move(sink.data);
        co_return outcome::ok();
    }
}

std::string session::status_text() const {
    std::string s;
    if (!connected()) {
        s += "Not connected.\n";
    } else {
        s += "Connected to " + host_ + " port " + std::to_string(port_) + " (" +
             net::unmapped(control_.peer().address()).to_string() + ")" + (logged_in_ ? ", logged in" : "") + ".\n";
        if (tls_used_) {
            s += "TLS: " + tls_description_ + (implicit_ ? " (implicit)" : " (AUTH TLS)") + "; control connection " +
                 (control_.secure() ? "protected" : "in clear after CCC") + "\n";
            s += "Server certificate: " + fingerprint_ + "\n";
        } else {
            s += "TLS: none (plain FTP)\n";
        }
        s += std::string("Data protection: ") + (prot_private_ ? "PROT P (private)" : "PROT C (clear)") + "\n";
    }
    s += std::string("Transfer type: ") + (ascii_ ? "ascii (TYPE A)" : "binary (TYPE I)") + "\n";
    s += std::string("Data connections: ") +
         (settings_.fwfriendly ? (settings_.epsv4 ? "passive, EPSV" : settings_.passive_ignore_addr ? "passive, PASV ignoring its address" : "passive, PASV")
                               : (settings_.epsv4 ? "active, EPRT" : "active, PORT")) +
         "\n";
    if (!features_.empty()) {
        s += "Server features:";
        for (const auto& f : features_.names()) s += " " + f;
        s += "\n";
    }
    return s;
}

}  // namespace ferry::client
