#pragma once
// A TCP connection that can start TLS in place (AUTH, implicit ports, data connections) and drop
// back to plain text on the same socket (CCC). OpenSSL runs directly on the non-blocking socket
// (no extra buffer copies); readiness comes from Asio. No FTP knowledge here.
//
// Not thread-safe: a stream lives on one io_context thread. One read and one write may be in
// flight at the same time (the control connection reads commands while a transfer posts replies).
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>

#include "tls/context.hpp"

namespace ferry::tls {

class client_context;
class session_slot;

class stream {
public:
    explicit stream(asio::ip::tcp::socket socket);
    ~stream();
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;

    asio::ip::tcp::socket& socket() { return socket_; }
    bool secure() const { return ssl_ != nullptr; }
    // TCP_CORK: while on, the kernel sends only full segments, so several small writes (a TLS
    // ticket and a reply; the end of a file, close_notify and FIN) leave as one segment and wake
    // the peer once. Turning it off (or shutdown) sends what is held.
    void cork(bool on);
    // TLS bytes already read from the socket but not yet returned: readiness of the socket does
    // not announce them.
    bool has_pending() const;

    // Server side of a handshake on this socket. On failure the reason is in last_error().
    // tickets: TLS 1.3 session tickets sent after the handshake (-1: OpenSSL's default). 0 for
    // connections whose peer may never read (FTP uploads): an unread ticket makes the peer's
    // close an RST, which destroys the transfer.
    asio::awaitable<std::error_code> handshake_server(const context& ctx, int tickets = -1);
    // Client side; the newest session of resume_from (may be null) is offered for resumption.
    asio::awaitable<std::error_code> handshake_client(const client_context& ctx, const std::string& sni,
                                                      session_slot* resume_from);

    // Reads at least one byte. asio::error::eof on a clean close (TLS close_notify or TCP FIN).
    asio::awaitable<std::size_t> read_some(void* data, std::size_t size, std::error_code& ec);
    // Like read_some, then goes on reading what is already there (buffered or in the socket)
    // until size is reached, without waiting again: one file write per buffer on uploads.
    asio::awaitable<std::size_t> read_fill(void* data, std::size_t size, std::error_code& ec);
    // Bulk receiving (data connections): OpenSSL reads whole socket buffers at once instead of
    // a record header and body per record, from the handshake on. Only where nothing else reads
    // the socket behind OpenSSL's back (not the control connection: CCC hands the clear bytes
    // that follow to plain reads). Set before the handshake, or at any time.
    void set_bulk_receive();
    // The control connection: a peer's close without close_notify is a plain end of input, and
    // OpenSSL sends no alert back into a socket the peer has closed (which its kernel would
    // answer with a RST). Data connections keep truncated() instead.
    void set_quiet_eof();
    asio::awaitable<std::error_code> write_all(const void* data, std::size_t size);
    // Plain connections only: kernel sendfile from fd at offset, count bytes.
    asio::awaitable<std::error_code> send_file(int fd, std::uint64_t offset, std::uint64_t count,
                                               std::uint64_t& sent);

    // Sends close_notify; if wait_for_peer, also waits for the peer's (RFC 4217 CCC, clean data
    // close). Afterwards the stream is plain again on the same TCP connection.
    asio::awaitable<std::error_code> end_tls(bool wait_for_peer);
    // The answering side of CCC: waits up to `grace` for the peer to move first. A peer that
    // sends close_notify gets ours back (if answer); one that stays silent gets ours first and is
    // then awaited (if answer); one that goes on in clear keeps its bytes. With answer=false
    // (CCCNONOTIFY) nothing is sent, but a close_notify the peer sends anyway is consumed.
    asio::awaitable<std::error_code> end_tls_answering(bool answer, std::chrono::milliseconds grace);
    // Forgets TLS without any alert (TLSRFCLEVEL CCCNONOTIFY).
    void drop_tls();

    // Sends close_notify without waiting for the peer's, and keeps TLS for what still arrives
    // (a client's end of a download: tickets sent on this connection are read while draining).
    asio::awaitable<void> send_close_notify();
    // Graceful end of a connection: close_notify if TLS, FIN, short drain, close. In two halves
    // where the caller need not wait for the peer: finish_sending, then drain_and_close.
    asio::awaitable<void> close_gracefully();
    asio::awaitable<void> finish_sending();
    asio::awaitable<void> drain_and_close();
    void close();  // immediate

    bool session_reused() const;
    // Adopts the tag of the session this connection resumed (a resumed control connection belongs
    // to the same client as the one that made the session). True if the tag changed: it resumed
    // another connection's session. Tickets of a resumed connection keep that tag, also those
    // sent inside a TLS 1.3 handshake.
    bool adopt_resumed_session_tag();
    // Tags the TLS sessions made on this connection (tickets and cached sessions carry it), so a
    // later connection can tell whether it resumed one of them. Set before the handshake.
    void set_session_tag(std::string tag) { tag_ = std::move(tag); }
    const std::string& session_tag() const { return tag_; }
    // A fresh random tag for set_session_tag (16 bytes; empty if no random bytes could be had).
    static std::string make_session_tag();
    // The protocol version ("TLSv1.3") and cipher suite of the connection, for logs and STAT;
    // empty in clear.
    std::string protocol() const;
    std::string cipher() const;
    // The tag of the session this connection resumed; empty after a full handshake.
    std::string resumed_session_tag() const;
    // TLS 1.3: queues a fresh session ticket, sent with the next write, so that the peer has an
    // unused ticket for its next data connection. No-op before TLS 1.3.
    void issue_session_ticket();
    struct peer_identity {
        bool present = false;
        std::string fingerprint;  // "SHA256:..."
        std::string subject;      // RFC 2253
        std::string issuer;       // RFC 2253
    };
    peer_identity peer() const;
    // The peer closed TLS without close_notify (possible truncation).
    bool truncated() const { return truncated_; }
    const std::string& last_error() const { return last_error_; }

private:
    friend class client_context;
    friend class session_slot;
    ssl_st* native() const { return ssl_; }

    enum class io_result { done, again, failed };
    // quick_acks: the bytes of every handshake read are acknowledged at once (server side).
    asio::awaitable<std::error_code> drive_handshake(bool quick_acks);
    void quick_ack();  // TCP_QUICKACK: acknowledge what has arrived now, not after a delay
    asio::awaitable<bool> wait(asio::ip::tcp::socket::wait_type what, std::error_code& ec);
    // 1: a TLS record is next; 0: clear text is next; -1: closed or error.
    int peek_tls_record();
    std::error_code classify(int ssl_ret, int& ssl_err);

    asio::ip::tcp::socket socket_;
    ssl_st* ssl_ = nullptr;
    bool truncated_ = false;
    bool tls_failed_ = false;  // a TLS protocol error: the session must not be resumed
    std::string last_error_;
    std::string tag_;
    bool bulk_receive_ = false;
    bool quiet_eof_ = false;
    std::error_code deferred_;  // what read_fill met after it had bytes to return
};

// TLS failures as error codes (category "ferry.tls").
enum class errc { handshake_failed = 1, protocol_error, alpn_refused };
const std::error_category& tls_category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), tls_category()}; }

}  // namespace ferry::tls

template <>
struct std::is_error_code_enum<ferry::tls::errc> : std::true_type {};
