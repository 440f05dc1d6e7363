#pragma once
// What a session needs from the network: its control connection (bytes, TLS started and ended in
// place, the proof that a reply arrived) and the sockets under its data connections (a passive
// listener, an active connect). The session's protocol code reaches the network only through
// this interface: ferryd runs it over a real socket (tcp_control_link), and tests/transcript runs
// whole dialogues in-process over a scripted double, without sockets or threads.
//
// What a data connection carries once it is open (TLS, sendfile, the close) is tls::stream's.
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

#include "net/delivery.hpp"
#include "net/passive_listener.hpp"
#include "tls/stream.hpp"

namespace ferry::server {

class control_link {
public:
    virtual ~control_link() = default;

    // Where the session's timers and coroutines run (one event thread).
    virtual asio::any_io_executor executor() = 0;
    virtual asio::ip::tcp::endpoint peer() const = 0;
    virtual asio::ip::tcp::endpoint local() const = 0;
    // The balancer that relayed the connection (PROXYPROTOCOL), for the log; empty: direct.
    virtual std::string via() const { return {}; }

    // ---- control bytes ----
    virtual asio::awaitable<std::error_code> send(std::string_view wire) = 0;
    virtual asio::awaitable<std::size_t> receive(char* data, std::size_t size, std::error_code& ec) = 0;
    // Calls done once input can be read, or with the error that ended the wait (idle sessions
    // wait here with a plain handler: no buffer, no coroutine frame).
    virtual void wait_readable(std::function<void(std::error_code)> done) = 0;
    // Bytes already decrypted and waiting inside TLS (wait_readable would not see them).
    virtual bool has_pending() const = 0;
    // Ends the pending receive, send or wait with an error (INACTIVE, LOGINTIMEOUT, DATACTTIME).
    virtual void interrupt() = 0;
    // Holds small writes back until cork(false), so that several go out in one segment.
    virtual void cork(bool on) = 0;

    // ---- TLS on the control connection ----
    // The handshake in place (AUTH, implicit TLS), then `tickets` TLS 1.3 tickets.
    virtual asio::awaitable<std::error_code> start_tls(const tls::context& ctx, int tickets) = 0;
    // REIN at RFC4217/CCCNONOTIFY: close_notify (and the peer's, if wait_for_peer); clear after.
    virtual asio::awaitable<std::error_code> end_tls(bool wait_for_peer) = 0;
    // CCC: the answering side of the close_notify exchange (tls::stream::end_tls_answering).
    virtual asio::awaitable<std::error_code> end_tls_answering(bool answer, std::chrono::milliseconds grace) = 0;
    // Why the last TLS operation failed, for the log.
    virtual std::string tls_error() const = 0;
    virtual std::string tls_protocol() const = 0;
    virtual std::string tls_cipher() const = 0;
    virtual tls::stream::peer_identity tls_peer() const = 0;
    // A fresh TLS 1.3 ticket, sent with the next write.
    virtual void issue_session_ticket() = 0;
    // Session tags (tls::stream): binds data connections' TLS sessions to this session. The link
    // holds the session's tag (the session keeps no copy: every idle session pays for its members).
    virtual void set_session_tag(std::string tag) = 0;
    virtual const std::string& session_tag() const = 0;
    // True if the handshake resumed another connection's session, whose tag is now this one's.
    virtual bool adopt_resumed_session_tag() = 0;

    // ---- the end ----
    virtual asio::awaitable<void> close_gracefully() = 0;
    virtual void close() = 0;
    // Whether the peer took in everything sent so far and is still there (net/delivery.hpp):
    // what an upload ended by a bare FIN waits for before it replaces an older file.
    virtual asio::awaitable<net::delivery> wait_delivered(std::chrono::steady_clock::duration limit,
                                                          std::chrono::steady_clock::duration settle) = 0;

    // ---- the network under data connections ----
    // A passive listener on the local address, on a port in [low, high] (0, 0: any).
    virtual std::error_code listen_passive(std::uint16_t low, std::uint16_t high) = 0;
    virtual std::uint16_t passive_port() const = 0;
    virtual void close_passive() = 0;
    // Accepts one connection on the passive listener (refusing others than required_peer).
    virtual asio::awaitable<std::error_code> accept_data(asio::ip::tcp::socket& out,
                                                         std::optional<asio::ip::address> required_peer,
                                                         net::refused_connections& refused) = 0;
    // Connects out to an active-mode target from the local address (port 20 if asked and allowed).
    virtual asio::awaitable<std::error_code> connect_data(asio::ip::tcp::socket& out, bool from_port_20,
                                                          const asio::ip::tcp::endpoint& target) = 0;
};

// The real thing: a TCP control connection (TLS by tls::stream) and real data sockets.
class tcp_control_link final : public control_link {
public:
    // keepalive_seconds: FTPKEEPALIVE (0: off). Behind a balancer (PROXYPROTOCOL): client is the
    // address its PROXY header named, and balancers (the session's settings, which outlive the
    // link) the subnets its data connections must come from, with headers of their own.
    tcp_control_link(asio::ip::tcp::socket socket, unsigned keepalive_seconds,
                     std::optional<asio::ip::tcp::endpoint> client = {},
                     const std::vector<std::string>* balancers = nullptr);

    asio::any_io_executor executor() override { return ctl_.socket().get_executor(); }
    asio::ip::tcp::endpoint peer() const override { return peer_; }
    asio::ip::tcp::endpoint local() const override { return local_; }
    std::string via() const override { return via_; }
    void set_via(std::string balancer) { via_ = std::move(balancer); }
    asio::awaitable<std::error_code> send(std::string_view wire) override;
    asio::awaitable<std::size_t> receive(char* data, std::size_t size, std::error_code& ec) override;
    void wait_readable(std::function<void(std::error_code)> done) override;
    bool has_pending() const override { return ctl_.has_pending(); }
    void interrupt() override;
    void cork(bool on) override { ctl_.cork(on); }
    asio::awaitable<std::error_code> start_tls(const tls::context& ctx, int tickets) override;
    asio::awaitable<std::error_code> end_tls(bool wait_for_peer) override;
    asio::awaitable<std::error_code> end_tls_answering(bool answer, std::chrono::milliseconds grace) override;
    std::string tls_error() const override { return ctl_.last_error(); }
    std::string tls_protocol() const override { return ctl_.protocol(); }
    std::string tls_cipher() const override { return ctl_.cipher(); }
    tls::stream::peer_identity tls_peer() const override { return ctl_.peer(); }
    void issue_session_ticket() override { ctl_.issue_session_ticket(); }
    void set_session_tag(std::string tag) override { ctl_.set_session_tag(std::move(tag)); }
    const std::string& session_tag() const override { return ctl_.session_tag(); }
    bool adopt_resumed_session_tag() override { return ctl_.adopt_resumed_session_tag(); }
    asio::awaitable<void> close_gracefully() override;
    void close() override { ctl_.close(); }
    asio::awaitable<net::delivery> wait_delivered(std::chrono::steady_clock::duration limit,
                                                  std::chrono::steady_clock::duration settle) override;
    std::error_code listen_passive(std::uint16_t low, std::uint16_t high) override;
    std::uint16_t passive_port() const override { return passive_ ? passive_->port() : 0; }
    void close_passive() override {
        if (passive_) passive_->close();
    }
    asio::awaitable<std::error_code> accept_data(asio::ip::tcp::socket& out,
                                                 std::optional<asio::ip::address> required_peer,
                                                 net::refused_connections& refused) override;
    asio::awaitable<std::error_code> connect_data(asio::ip::tcp::socket& out, bool from_port_20,
                                                  const asio::ip::tcp::endpoint& target) override;

private:
    tls::stream ctl_;
    asio::ip::tcp::endpoint peer_, local_;  // addresses unmapped (::ffff:a.b.c.d is a.b.c.d)
    std::string via_;
    // Made by the first PASV or EPSV: sessions that never ask for one (and idle ones) pay a pointer.
    std::unique_ptr<net::passive_listener> passive_;
    const std::vector<std::string>* balancers_;  // PROXYPROTOCOL FROM, for the passive listener
};

}  // namespace ferry::server
