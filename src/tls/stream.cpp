#include "tls/stream.hpp"

#include "tls/detail/openssl.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sys/sendfile.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "tls/client_context.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <algorithm>
#include <utility>

namespace ferry::tls {

using asio::ip::tcp;
namespace {
constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

class category_impl : public std::error_category {
public:
    const char* name() const noexcept override { return "ferry.tls"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::handshake_failed: return "TLS handshake failed";
            case errc::protocol_error: return "TLS protocol error";
            case errc::alpn_refused: return "TLS ALPN protocol refused";
        }
        return "TLS error";
    }
};
}  // namespace

const std::error_category& tls_category() {
    static category_impl c;
    return c;
}

stream::stream(tcp::socket socket) : socket_(std::move(socket)) {
    std::error_code ec;
    socket_.native_non_blocking(true, ec);
}

stream::~stream() { drop_tls(); }

void stream::drop_tls() {
    if (ssl_) {
        // OpenSSL forgets the session of a connection freed without a shutdown. A TCP reset or an
        // abort says nothing against the session's secrets, and the FTP control session (shared
        // by every data connection) must stay resumable; a TLS protocol failure does invalidate it.
        if (!tls_failed_ && SSL_is_init_finished(ssl_)) SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(ssl_);
        ssl_ = nullptr;
    }
    tls_failed_ = false;
}

void stream::close() {
    drop_tls();
    std::error_code ec;
    socket_.close(ec);
}

bool stream::session_reused() const { return ssl_ && SSL_session_reused(ssl_) == 1; }

std::string stream::make_session_tag() {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) return {};
    return std::string(reinterpret_cast<const char*>(raw), sizeof raw);
}

std::string stream::protocol() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

std::string stream::cipher() const {
    const char* name = ssl_ ? SSL_get_cipher_name(ssl_) : nullptr;
    return name ? name : "";
}

std::string stream::resumed_session_tag() const {
    if (!session_reused()) return {};
    void* data = nullptr;
    std::size_t len = 0;
    if (SSL_SESSION_get0_ticket_appdata(SSL_get0_session(ssl_), &data, &len) != 1 || !data) return {};
    return std::string(static_cast<const char*>(data), len);
}

bool stream::adopt_resumed_session_tag() {
    std::string resumed = resumed_session_tag();
    if (resumed.empty() || resumed == tag_) return false;
    tag_ = std::move(resumed);
    return true;
}

void stream::issue_session_ticket() {
    if (ssl_ && SSL_version(ssl_) >= TLS1_3_VERSION) SSL_new_session_ticket(ssl_);
}

stream::peer_identity stream::peer() const {
    peer_identity id;
    X509* cert = ssl_ ? SSL_get0_peer_certificate(ssl_) : nullptr;
    if (!cert) return id;
    id.present = true;
    id.fingerprint = detail::sha256_fingerprint(cert);
    auto rfc2253 = [](X509_NAME* name) {
        std::string out;
        if (BIO* b = BIO_new(BIO_s_mem())) {
            X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
            char* p = nullptr;
            long n = BIO_get_mem_data(b, &p);
            out.assign(p, static_cast<std::size_t>(n));
            BIO_free(b);
        }
        return out;
    };
    id.subject = rfc2253(X509_get_subject_name(cert));
    id.issuer = rfc2253(X509_get_issuer_name(cert));
    return id;
}

asio::awaitable<bool> stream::wait(tcp::socket::wait_type what, std::error_code& ec) {
    auto [e] = co_await socket_.async_wait(what, tuple_awaitable);
    ec = e;
    co_return !e;
}

// Maps an OpenSSL result to: {} + ssl_err WANT_* (retry), eof, or an error (text in last_error_).
std::error_code stream::classify(int ssl_ret, int& ssl_err) {
    ssl_err = SSL_get_error(ssl_, ssl_ret);
    switch (ssl_err) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: return {};
        case SSL_ERROR_ZERO_RETURN: return asio::error::eof;
        case SSL_ERROR_SYSCALL: {
            int e = errno;
            ERR_clear_error();
            if (e == 0) {
                truncated_ = true;
                return asio::error::eof;
            }
            last_error_ = std::strerror(e);
            return {e, std::system_category()};
        }
        default: {
            unsigned long err = ERR_peek_error();
            if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                ERR_clear_error();
                truncated_ = true;
                return asio::error::eof;
            }
            last_error_ = openssl_error_text();
            if (long v = SSL_get_verify_result(ssl_); v != X509_V_OK)
                last_error_ += std::string(" (certificate: ") + X509_verify_cert_error_string(v) + ")";
            tls_failed_ = true;
            return errc::protocol_error;
        }
    }
}

void stream::quick_ack() {
    int one = 1;
    ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

asio::awaitable<std::error_code> stream::drive_handshake(bool quick_acks) {
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(ssl_);
        if (r == 1) co_return std::error_code{};
        int ssl_err;
        std::error_code ec = classify(r, ssl_err);
        if (ec || (ssl_err != SSL_ERROR_WANT_READ && ssl_err != SSL_ERROR_WANT_WRITE)) {
            if (!ec || ec == asio::error::eof) {
                last_error_ = "connection closed during the TLS handshake";
            }
            co_return make_error_code(errc::handshake_failed);
        }
        // A peer that writes a flight in several segments with Nagle on (GnuTLS: ChangeCipherSpec,
        // then Finished) sends the next one only when the last is acknowledged: a delayed ACK
        // costs it 40 ms. Linux leaves quick-ACK mode on its own (when we answer), so it is set
        // again before every wait: this also sends the ACK the bytes just read have scheduled.
        if (quick_acks && ssl_err == SSL_ERROR_WANT_READ) quick_ack();
        if (!co_await wait(ssl_err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write, ec))
            co_return ec;
    }
}

bool stream::has_pending() const { return ssl_ && SSL_has_pending(ssl_) == 1; }

asio::awaitable<std::error_code> stream::handshake_server(const context& ctx, int tickets) {
    drop_tls();
    ssl_ = SSL_new(ctx.native());
    if (!ssl_ || SSL_set_fd(ssl_, socket_.native_handle()) != 1) {
        last_error_ = openssl_error_text();
        co_return make_error_code(errc::handshake_failed);
    }
    SSL_set_accept_state(ssl_);
    if (bulk_receive_) set_bulk_receive();
    if (quiet_eof_) set_quiet_eof();
    // At most what the context allows: a context without resumption (TLSTIMEOUT 0) sends none.
    if (tickets >= 0)
        SSL_set_num_tickets(ssl_, std::min(static_cast<std::size_t>(tickets), SSL_CTX_get_num_tickets(ctx.native())));
    if (!tag_.empty()) SSL_set_ex_data(ssl_, detail::session_tag_index(), &tag_);
    std::error_code ec = co_await drive_handshake(true);
    // Acknowledge the client's Finished at once. When we send nothing after the handshake (no
    // tickets), a client with Nagle on holds its first data until that ACK, and a delayed ACK
    // costs 40 ms per connection.
    quick_ack();
    // Sessions resumed by id (TLS 1.2 without tickets) are the cached object itself: tag it too.
    if (!ec && !tag_.empty() && !session_reused())
        SSL_SESSION_set1_ticket_appdata(SSL_get0_session(ssl_), tag_.data(), tag_.size());
    co_return ec;
}

asio::awaitable<std::error_code> stream::handshake_client(const client_context& ctx, const std::string& sni,
                                                         session_slot* resume_from) {
    drop_tls();
    ssl_ = SSL_new(ctx.native());
    if (!ssl_ || SSL_set_fd(ssl_, socket_.native_handle()) != 1) {
        last_error_ = openssl_error_text();
        co_return make_error_code(errc::handshake_failed);
    }
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl_, sni.c_str());
    if (SSL_SESSION* resume = resume_from ? resume_from->take() : nullptr) SSL_set_session(ssl_, resume);
    SSL_set_connect_state(ssl_);
    if (bulk_receive_) set_bulk_receive();
    co_return co_await drive_handshake(false);
}

asio::awaitable<std::size_t> stream::read_some(void* data, std::size_t size, std::error_code& ec) {
    ec = std::exchange(deferred_, {});
    if (ec) co_return 0;
    if (!ssl_) {
        auto [e, n] = co_await socket_.async_read_some(asio::buffer(data, size), tuple_awaitable);
        ec = e;
        co_return n;
    }
    for (;;) {
        ERR_clear_error();
        std::size_t n = 0;
        int r = SSL_read_ex(ssl_, data, size, &n);
        if (r == 1) co_return n;
        int ssl_err;
        ec = classify(r, ssl_err);
        if (ec) co_return 0;
        if (!co_await wait(ssl_err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write, ec))
            co_return 0;
    }
}

asio::awaitable<std::size_t> stream::read_fill(void* data, std::size_t size, std::error_code& ec) {
    std::size_t got = co_await read_some(data, size, ec);
    if (ec) co_return got;
    char* p = static_cast<char*>(data);
    while (got < size) {
        std::size_t n = 0;
        if (ssl_) {
            ERR_clear_error();
            int r = SSL_read_ex(ssl_, p + got, size - got, &n);
            if (r != 1) {
                int ssl_err;
                deferred_ = classify(r, ssl_err);  // the end or an error: the next read reports it
                break;
            }
        } else {
            ssize_t r = ::recv(socket_.native_handle(), p + got, size - got, MSG_DONTWAIT);
            if (r == 0) deferred_ = asio::error::eof;
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                deferred_ = std::error_code(errno, std::system_category());  // a reset must not pass for an end
            if (r <= 0) break;
            n = static_cast<std::size_t>(r);
        }
        got += n;
    }
    co_return got;
}

void stream::cork(bool on) {
    int v = on ? 1 : 0;
    ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_CORK, &v, sizeof v);
}

void stream::set_quiet_eof() {
    quiet_eof_ = true;
    if (ssl_) SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

void stream::set_bulk_receive() {
    bulk_receive_ = true;
    if (!ssl_) return;
    SSL_set_read_ahead(ssl_, 1);
    SSL_set_default_read_buffer_len(ssl_, 64 * 1024);
}

asio::awaitable<std::error_code> stream::write_all(const void* data, std::size_t size) {
    if (!ssl_) {
        auto [e, n] = co_await asio::async_write(socket_, asio::buffer(data, size), tuple_awaitable);
        co_return e;
    }
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ERR_clear_error();
        std::size_t n = 0;
        int r = SSL_write_ex(ssl_, p, size, &n);
        if (r == 1) {
            p += n;
            size -= n;
            continue;
        }
        int ssl_err;
        std::error_code ec = classify(r, ssl_err);
        if (ec) co_return ec == asio::error::eof ? std::error_code(asio::error::broken_pipe) : ec;
        if (!co_await wait(ssl_err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write, ec))
            co_return ec;
    }
    co_return std::error_code{};
}

asio::awaitable<std::error_code> stream::send_file(int fd, std::uint64_t offset, std::uint64_t count,
                                                   std::uint64_t& sent) {
    sent = 0;
    off_t off = static_cast<off_t>(offset);
    while (sent < count) {
        std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(count - sent, 1u << 30));
        ssize_t n = ::sendfile(socket_.native_handle(), fd, &off, chunk);
        if (n > 0) {
            sent += static_cast<std::uint64_t>(n);
            continue;
        }
        if (n == 0) break;  // file shrank under us
        if (errno == EAGAIN) {
            std::error_code ec;
            if (!co_await wait(tcp::socket::wait_write, ec)) co_return ec;
            continue;
        }
        if (errno == EINTR) continue;
        co_return std::error_code(errno, std::system_category());
    }
    co_return std::error_code{};
}

asio::awaitable<void> stream::send_close_notify() {
    if (!ssl_) co_return;
    for (int i = 0; i < 100; ++i) {  // bounded: a peer that never lets us write ends it
        ERR_clear_error();
        int r = SSL_shutdown(ssl_);
        if (r >= 0) break;
        int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) break;
        std::error_code ec;
        if (!co_await wait(e == SSL_ERROR_WANT_WRITE ? tcp::socket::wait_write : tcp::socket::wait_read, ec)) break;
    }
    ERR_clear_error();
}

asio::awaitable<std::error_code> stream::end_tls(bool wait_for_peer) {
    if (!ssl_) co_return std::error_code{};
    bool peeked = false;
    for (;;) {
        ERR_clear_error();
        int r = SSL_shutdown(ssl_);
        if (r == 1 || (r == 0 && !wait_for_peer)) break;
        if (r == 0 && !peeked) {
            // Ours is sent. Some peers (curl's passive CCC mode) never answer with close_notify
            // and go on in clear at once. Look before OpenSSL reads: a TLS record starts with
            // 0x15 (alert) or 0x17 (TLS 1.3 wraps alerts as application data); a clear FTP
            // command or reply never does, and those bytes must stay in the socket for the caller.
            peeked = true;
            std::error_code ec;
            if (!co_await wait(tcp::socket::wait_read, ec)) {
                drop_tls();
                co_return ec;
            }
            if (peek_tls_record() != 1) break;
            continue;
        }
        if (r == 0) continue;
        int ssl_err;
        std::error_code ec = classify(r, ssl_err);
        if (ec) {
            drop_tls();
            co_return ec == asio::error::eof ? std::error_code{} : ec;
        }
        if (!co_await wait(ssl_err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write, ec)) {
            drop_tls();
            co_return ec;
        }
    }
    drop_tls();
    co_return std::error_code{};
}

int stream::peek_tls_record() {
    // A TLS record starts with 0x15 (alert) or 0x17 (TLS 1.3 wraps alerts as application data);
    // a clear FTP command or reply starts with a letter or digit.
    unsigned char first = 0;
    ssize_t n = ::recv(socket_.native_handle(), &first, 1, MSG_PEEK);
    if (n <= 0) return -1;
    return (first == 0x15 || first == 0x17) ? 1 : 0;
}

asio::awaitable<std::error_code> stream::end_tls_answering(bool answer, std::chrono::milliseconds grace) {
    if (!ssl_) co_return std::error_code{};
    asio::steady_timer timer(socket_.get_executor(), grace);
    bool timed_out = false;
    timer.async_wait([this, &timed_out](const std::error_code& e) {
        if (e) return;
        timed_out = true;
        std::error_code ig;
        socket_.cancel(ig);
    });
    std::error_code ec;
    bool readable = co_await wait(tcp::socket::wait_read, ec);
    timer.cancel();
    if (!readable && !timed_out) {
        drop_tls();
        co_return ec;
    }
    if (readable && peek_tls_record() == 1) {
        // The peer sent its close_notify first: read it, then answer.
        char sink[256];
        for (;;) {
            ERR_clear_error();
            std::size_t n = 0;
            int r = SSL_read_ex(ssl_, sink, sizeof sink, &n);
            if (r == 1) continue;  // stray application data before the alert
            int ssl_err;
            ec = classify(r, ssl_err);
            if (ec == asio::error::eof) break;
            if (ec) {
                drop_tls();
                co_return ec;
            }
            if (!co_await wait(ssl_err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write, ec)) {
                drop_tls();
                co_return ec;
            }
        }
        co_return answer ? co_await end_tls(false) : (drop_tls(), std::error_code{});
    }
    if (readable || !answer) {
        drop_tls();  // clear text already follows (or CCCNONOTIFY): nothing more to exchange
        co_return std::error_code{};
    }
    co_return co_await end_tls(true);  // silent peer: it waits for us to start
}

asio::awaitable<void> stream::close_gracefully() {
    co_await finish_sending();
    co_await drain_and_close();
}

asio::awaitable<void> stream::finish_sending() {
    if (ssl_) {
        // Without close_notify some clients report the download as truncated.
        co_await end_tls(false);
    }
    std::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> stream::drain_and_close() {
    std::error_code ec;
    // Drain until the peer closes so that unread bytes do not turn our FIN into an RST, which can
    // destroy data the peer has not read yet. The caller bounds this with its deadline.
    char sink[4096];
    for (int i = 0; i < 64 && !ec; ++i) {
        auto [e, n] = co_await socket_.async_read_some(asio::buffer(sink), tuple_awaitable);
        ec = e;
    }
    socket_.close(ec);
}

}  // namespace ferry::tls
