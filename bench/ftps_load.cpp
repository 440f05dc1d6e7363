// ftps_load: the load client of Ferry's benchmark (bench/bench.py, issue 6).
//
// Plain OpenSSL on blocking POSIX sockets with one std::thread per worker: small, and fast
// enough not to be the bottleneck against any of the servers measured. Every socket has a
// send and receive timeout (--timeout), so every wait is bounded. Each mode prints one JSON
// line on stdout; any error ends the program with a message on stderr and exit status 1.
//
//   ftps_load sessions   --workers 8 --seconds 20      connect, 220, AUTH TLS, handshake,
//                                                      USER/PASS, PWD, QUIT: sessions/s
//   ftps_load files      --count 1000 --dir /small     one session: PBSZ 0, PROT P, TYPE I, then
//                                                      per file EPSV + RETR DIR/file-NNNNN + a
//                                                      TLS data connection resuming the control
//                                                      session: files/s and resumptions
//   ftps_load tls-stream --bytes N                     server and client threads in this process,
//   ftps_load tcp-stream --bytes N                     one stream over 127.0.0.1: MB/s
//
// Common options: --host 127.0.0.1 --port N --user U --password P --tls13 (default) | --tls12
//                 --timeout SECONDS (per socket operation, default 30)
// tls-stream --read-ahead: the reading side uses OpenSSL's read-ahead (fewer, larger reads).
// MB is 10^6 bytes.

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct options {
    std::string mode;
    std::string host = "127.0.0.1";
    int port = 21;
    std::string user = "anonymous";
    std::string password = "";
    int workers = 8;
    double seconds = 20;
    int count = 1000;
    std::string dir = "/";
    std::uint64_t bytes = 1ull << 30;
    int tls_version = 13;  // 13: TLS 1.3 only; 12: TLS 1.2 only
    bool read_ahead = false;
    double timeout = 30;
};

struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string ssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

std::string ssl_failure(SSL* ssl, int ret, const char* what) {
    int err = SSL_get_error(ssl, ret);
    std::string msg = std::string(what) + " failed (SSL error " + std::to_string(err);
    if (err == SSL_ERROR_SYSCALL) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            msg += ": timed out";
        else if (errno)
            msg += std::string(": ") + std::strerror(errno);
        else
            msg += ": connection closed";
    }
    std::string lib = ssl_errors();
    if (!lib.empty()) msg += ": " + lib;
    return msg + ")";
}

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

void set_timeouts(int fd, double timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout);
    tv.tv_usec = static_cast<suseconds_t>((timeout - static_cast<double>(tv.tv_sec)) * 1e6);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // also bounds connect()
}

sockaddr_in make_address(const std::string& host, int port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
        throw failure("--host must be an IPv4 address, not " + host);
    return sa;
}

int tcp_connect(const std::string& host, int port, double timeout) {
    sockaddr_in sa = make_address(host, port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw failure(std::string("socket: ") + std::strerror(errno));
    set_timeouts(fd, timeout);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        int e = errno;
        close(fd);
        throw failure("connect to " + host + ":" + std::to_string(port) + ": " +
                      (e == EINPROGRESS || e == EAGAIN ? "timed out" : std::strerror(e)));
    }
    return fd;
}

// --------------------------------------------------------------------------------------------
// TLS sessions to resume: every session (TLS 1.3 ticket or TLS 1.2 session) the server hands
// out on the control connection or a data connection of one FTP session.

struct session_store {
    std::deque<SSL_SESSION*> fresh;  // newest at the back
    SSL_SESSION* last_used = nullptr;
    long received = 0;  // sessions (tickets) the server handed out

    ~session_store() {
        for (auto* s : fresh) SSL_SESSION_free(s);
        if (last_used) SSL_SESSION_free(last_used);
    }
    void add(SSL_SESSION* s) {
        ++received;
        fresh.push_back(s);
        while (fresh.size() > 16) {
            SSL_SESSION_free(fresh.front());
            fresh.pop_front();
        }
    }
    // The newest session; TLS 1.3 tickets are single-use on most servers, so one is taken out
    // of the store once offered. Returns a session owned by the store (or nullptr).
    SSL_SESSION* pick() {
        while (!fresh.empty()) {
            SSL_SESSION* s = fresh.back();
            if (!SSL_SESSION_is_resumable(s)) {
                fresh.pop_back();
                SSL_SESSION_free(s);
                continue;
            }
            if (SSL_SESSION_get_protocol_version(s) == TLS1_3_VERSION) {
                fresh.pop_back();
                if (last_used) SSL_SESSION_free(last_used);
                last_used = s;
            }
            return s;
        }
        return last_used;
    }
};

int store_index = -1;

int on_new_session(SSL* ssl, SSL_SESSION* sess) {
    auto* store = static_cast<session_store*>(SSL_get_ex_data(ssl, store_index));
    if (!store) return 0;  // not kept: OpenSSL frees it
    store->add(sess);
    return 1;  // the store owns the reference now
}

SSL_CTX* make_client_ctx(const options& o, bool cache_sessions) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) throw failure("SSL_CTX_new: " + ssl_errors());
    int v = o.tls_version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx, v);
    SSL_CTX_set_max_proto_version(ctx, v);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);  // curl -k: the benchmark's own cert
    if (cache_sessions) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    return ctx;
}

std::string describe(SSL* ssl) {
    return std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
}

// --------------------------------------------------------------------------------------------
// FTP control connection (blocking; plain until AUTH TLS)

struct reply {
    int code = 0;
    std::string text;  // last line
};

class control {
public:
    control(const options& o) : o_(o) { fd_ = tcp_connect(o.host, o.port, o.timeout); }
    ~control() {
        if (ssl_) SSL_free(ssl_);
        if (fd_ >= 0) close(fd_);
    }
    control(const control&) = delete;
    control& operator=(const control&) = delete;

    SSL* ssl() const { return ssl_; }

    void send(const std::string& line) {
        std::string out = line + "\r\n";
        last_cmd_ = line.substr(0, line.find(' '));
        std::size_t off = 0;
        while (off < out.size()) {
            if (ssl_) {
                int n = SSL_write(ssl_, out.data() + off, static_cast<int>(out.size() - off));
                if (n <= 0) throw failure(ssl_failure(ssl_, n, ("sending " + last_cmd_).c_str()));
                off += static_cast<std::size_t>(n);
            } else {
                ssize_t n = ::send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
                if (n <= 0) throw failure("sending " + last_cmd_ + ": " + std::strerror(errno));
                off += static_cast<std::size_t>(n);
            }
        }
    }

    reply read_reply() {
        std::string line = read_line();
        reply r;
        if (line.size() < 3 || !isdigit(line[0]) || !isdigit(line[1]) || !isdigit(line[2]))
            throw failure("bad reply line after " + last_cmd_ + ": " + line);
        r.code = std::stoi(line.substr(0, 3));
        if (line.size() > 3 && line[3] == '-') {
            std::string end = line.substr(0, 3) + " ";
            for (int i = 0; i < 10000; ++i) {
                line = read_line();
                if (line.compare(0, 4, end) == 0) break;
            }
        }
        r.text = line;
        return r;
    }

    reply expect(const std::string& cmd, int want, int also = -1) {
        if (!cmd.empty()) send(cmd);
        reply r = read_reply();
        if (r.code != want && r.code != also)
            throw failure((cmd.empty() ? std::string("greeting") : last_cmd_) + " -> " + r.text);
        return r;
    }

    void start_tls(SSL_CTX* ctx, session_store* store) {
        if (!buf_.empty()) throw failure("plaintext after the 234 reply to AUTH TLS");
        ssl_ = SSL_new(ctx);
        if (!ssl_) throw failure("SSL_new: " + ssl_errors());
        if (store) SSL_set_ex_data(ssl_, store_index, store);
        SSL_set_fd(ssl_, fd_);
        int r = SSL_connect(ssl_);
        if (r != 1) throw failure(ssl_failure(ssl_, r, "control TLS handshake"));
    }

    // Reads what has already arrived on the control connection without blocking: TLS 1.3
    // tickets the server sent are processed (and captured by on_new_session) before the
    // next data connection is opened.
    void drain_pending() {
        if (!ssl_) return;
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 && SSL_pending(ssl_) == 0) return;
        int flags = fcntl(fd_, F_GETFL);
        fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
        char tmp[4096];
        for (;;) {
            int n = SSL_read(ssl_, tmp, sizeof tmp);
            if (n > 0) {
                buf_.append(tmp, static_cast<std::size_t>(n));
                continue;
            }
            int err = SSL_get_error(ssl_, n);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
            fcntl(fd_, F_SETFL, flags);
            throw failure(ssl_failure(ssl_, n, "reading the control connection"));
        }
        ERR_clear_error();
        fcntl(fd_, F_SETFL, flags);
    }

    void quit() {
        send("QUIT");
        reply r = read_reply();
        if (r.code != 221) throw failure("QUIT -> " + r.text);
        if (ssl_) SSL_shutdown(ssl_);  // our close_notify; the server closes the connection
    }

private:
    std::string read_line() {
        for (;;) {
            auto pos = buf_.find('\n');
            if (pos != std::string::npos) {
                std::string line = buf_.substr(0, pos);
                buf_.erase(0, pos + 1);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                return line;
            }
            if (buf_.size() > 65536) throw failure("reply line longer than 64 KiB");
            char tmp[4096];
            if (ssl_) {
                int n = SSL_read(ssl_, tmp, sizeof tmp);
                if (n <= 0)
                    throw failure(ssl_failure(ssl_, n, ("reading the reply to " + last_cmd_).c_str()));
                buf_.append(tmp, static_cast<std::size_t>(n));
            } else {
                ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
                if (n == 0) throw failure("connection closed while waiting for the reply to " + last_cmd_);
                if (n < 0)
                    throw failure("reading the reply to " + last_cmd_ + ": " +
                                  (errno == EAGAIN ? std::string("timed out") : std::strerror(errno)));
                buf_.append(tmp, static_cast<std::size_t>(n));
            }
        }
    }

    const options& o_;
    int fd_ = -1;
    SSL* ssl_ = nullptr;
    std::string buf_;
    std::string last_cmd_ = "greeting";
};

void login(control& c, SSL_CTX* ctx, session_store* store, const options& o) {
    c.expect("", 220);
    c.expect("AUTH TLS", 234);
    c.start_tls(ctx, store);
    reply r = c.expect("USER " + o.user, 331, 230);
    if (r.code == 331) c.expect("PASS " + o.password, 230, 202);
}

// --------------------------------------------------------------------------------------------
// sessions

int run_sessions(const options& o) {
    SSL_CTX* ctx = make_client_ctx(o, false);
    std::atomic<bool> stop{false};
    std::atomic<long> done{0};
    std::mutex mu;
    std::string first_error;
    auto t0 = clock_type::now();
    auto deadline = t0 + std::chrono::duration_cast<clock_type::duration>(
                             std::chrono::duration<double>(o.seconds));
    std::vector<std::thread> threads;
    for (int w = 0; w < o.workers; ++w) {
        threads.emplace_back([&] {
            try {
                while (!stop.load(std::memory_order_relaxed) && clock_type::now() < deadline) {
                    control c(o);
                    login(c, ctx, nullptr, o);
                    c.expect("PWD", 257);
                    c.quit();
                    done.fetch_add(1, std::memory_order_relaxed);
                }
            } catch (const std::exception& e) {
                std::lock_guard lk(mu);
                if (first_error.empty()) first_error = e.what();
                stop = true;
            }
        });
    }
    for (auto& t : threads) t.join();
    double elapsed = seconds_since(t0);
    SSL_CTX_free(ctx);
    if (!first_error.empty()) {
        std::fprintf(stderr, "ftps_load sessions: %s (after %ld sessions)\n", first_error.c_str(),
                     done.load());
        return 1;
    }
    std::printf("{\"mode\": \"sessions\", \"workers\": %d, \"sessions\": %ld, \"seconds\": %.3f, "
                "\"per_second\": %.1f}\n",
                o.workers, done.load(), elapsed, static_cast<double>(done.load()) / elapsed);
    return 0;
}

// --------------------------------------------------------------------------------------------
// files

int epsv_port(const std::string& text) {
    auto a = text.find("(|||");
    auto b = a == std::string::npos ? a : text.find('|', a + 4);
    if (b == std::string::npos) throw failure("cannot parse the EPSV reply: " + text);
    return std::stoi(text.substr(a + 4, b - a - 4));
}

int run_files(const options& o) {
    SSL_CTX* ctx = make_client_ctx(o, true);
    session_store store;
    long resumed = 0, unclean = 0;
    std::uint64_t bytes = 0;
    std::string data_tls;
    std::vector<char> buf(256 * 1024);
    auto t0 = clock_type::now();
    try {
        control c(o);
        login(c, ctx, &store, o);
        c.expect("PBSZ 0", 200);
        c.expect("PROT P", 200);
        c.expect("TYPE I", 200);
        std::string dir = o.dir;
        if (dir.empty() || dir.back() != '/') dir += '/';
        t0 = clock_type::now();
        for (int i = 0; i < o.count; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "file-%05d", i);
            c.drain_pending();
            int port = epsv_port(c.expect("EPSV", 229).text);
            int fd = tcp_connect(o.host, port, o.timeout);
            SSL* d = SSL_new(ctx);
            SSL_set_read_ahead(d, 1);  // one read per flight, not a header and a body per record
            SSL_set_ex_data(d, store_index, &store);
            SSL_set_fd(d, fd);
            if (SSL_SESSION* s = store.pick()) SSL_set_session(d, s);
            c.send("RETR " + dir + name);
            int r = SSL_connect(d);
            if (r != 1) {
                std::string msg = ssl_failure(d, r, "data TLS handshake");
                SSL_free(d);
                close(fd);
                try {
                    msg += "; server: " + c.read_reply().text;
                } catch (const std::exception&) {
                }
                throw failure(msg + " (file " + std::to_string(i) + ")");
            }
            if (SSL_session_reused(d)) ++resumed;
            if (data_tls.empty()) data_tls = describe(d);
            for (;;) {
                int n = SSL_read(d, buf.data(), static_cast<int>(buf.size()));
                if (n > 0) {
                    bytes += static_cast<std::uint64_t>(n);
                    continue;
                }
                int err = SSL_get_error(d, n);
                if (err == SSL_ERROR_ZERO_RETURN) break;  // close_notify
                if (err == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0) {
                    ++unclean;  // TCP EOF without close_notify
                    break;
                }
                std::string msg = ssl_failure(d, n, "reading the data connection");
                SSL_free(d);
                close(fd);
                throw failure(msg + " (file " + std::to_string(i) + ")");
            }
            SSL_shutdown(d);  // our close_notify
            SSL_free(d);
            close(fd);
            reply rep = c.read_reply();
            if (rep.code == 150 || rep.code == 125) rep = c.read_reply();
            if (rep.code != 226 && rep.code != 250)
                throw failure("RETR " + dir + name + " -> " + rep.text);
        }
        double elapsed = seconds_since(t0);
        c.quit();
        std::printf("{\"mode\": \"files\", \"files\": %d, \"bytes\": %llu, \"seconds\": %.3f, "
                    "\"per_second\": %.1f, \"resumed\": %ld, \"tickets\": %ld, \"unclean_eof\": %ld, "
                    "\"control_tls\": \"%s\", \"data_tls\": \"%s\"}\n",
                    o.count, static_cast<unsigned long long>(bytes), elapsed,
                    static_cast<double>(o.count) / elapsed, resumed, store.received, unclean,
                    describe(c.ssl()).c_str(), data_tls.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ftps_load files: %s\n", e.what());
        SSL_CTX_free(ctx);
        return 1;
    }
    SSL_CTX_free(ctx);
    return 0;
}

// --------------------------------------------------------------------------------------------
// tls-stream / tcp-stream: the machine's single-stream limits

struct key_and_cert {
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    ~key_and_cert() {
        EVP_PKEY_free(key);
        X509_free(cert);
    }
};

void make_self_signed(key_and_cert& kc) {
    kc.key = EVP_EC_gen("P-256");
    kc.cert = X509_new();
    if (!kc.key || !kc.cert) throw failure("key generation: " + ssl_errors());
    X509_set_version(kc.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(kc.cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(kc.cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(kc.cert), 86400);
    X509_set_pubkey(kc.cert, kc.key);
    X509_NAME* name = X509_get_subject_name(kc.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(kc.cert, name);
    if (!X509_sign(kc.cert, kc.key, EVP_sha256())) throw failure("X509_sign: " + ssl_errors());
}

void restrict_cipher(SSL_CTX* ctx, const options& o) {
    // The benchmark's reference cipher: AES-256-GCM (what the servers negotiate with curl).
    if (o.tls_version == 12)
        SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES256-GCM-SHA384");
    else
        SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384");
}

int run_stream(const options& o, bool tls) {
    constexpr std::size_t chunk = 256 * 1024;
    key_and_cert kc;
    SSL_CTX* sctx = nullptr;
    SSL_CTX* cctx = nullptr;
    if (tls) {
        make_self_signed(kc);
        sctx = SSL_CTX_new(TLS_server_method());
        int v = o.tls_version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;
        SSL_CTX_set_min_proto_version(sctx, v);
        SSL_CTX_set_max_proto_version(sctx, v);
        restrict_cipher(sctx, o);
        if (SSL_CTX_use_certificate(sctx, kc.cert) != 1 || SSL_CTX_use_PrivateKey(sctx, kc.key) != 1)
            throw failure("server certificate: " + ssl_errors());
        cctx = make_client_ctx(o, false);
        restrict_cipher(cctx, o);
        if (o.read_ahead) {
            SSL_CTX_set_read_ahead(cctx, 1);
            SSL_CTX_set_default_read_buffer_len(cctx, 64 * 1024);
        }
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa = make_address(o.host, 0);
    socklen_t len = sizeof sa;
    if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
        throw failure(std::string("listen: ") + std::strerror(errno));
    int port = ntohs(sa.sin_port);

    std::string server_error;
    std::thread server([&] {
        int fd = -1;
        SSL* ssl = nullptr;
        try {
            pollfd p{lfd, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(o.timeout * 1000)) != 1) throw failure("accept timed out");
            fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) throw failure(std::string("accept: ") + std::strerror(errno));
            set_timeouts(fd, o.timeout);
            std::vector<char> data(chunk, 'x');
            char go;
            if (tls) {
                ssl = SSL_new(sctx);
                SSL_set_fd(ssl, fd);
                int r = SSL_accept(ssl);
                if (r != 1) throw failure(ssl_failure(ssl, r, "server handshake"));
                r = SSL_read(ssl, &go, 1);
                if (r != 1) throw failure(ssl_failure(ssl, r, "server waiting for the start"));
            } else if (recv(fd, &go, 1, 0) != 1) {
                throw failure("server waiting for the start: " + std::string(std::strerror(errno)));
            }
            std::uint64_t left = o.bytes;
            while (left) {
                std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk));
                if (tls) {
                    int w = SSL_write(ssl, data.data(), static_cast<int>(n));
                    if (w <= 0) throw failure(ssl_failure(ssl, w, "server write"));
                    left -= static_cast<std::uint64_t>(w);
                } else {
                    ssize_t w = ::send(fd, data.data(), n, MSG_NOSIGNAL);
                    if (w <= 0) throw failure("server write: " + std::string(std::strerror(errno)));
                    left -= static_cast<std::uint64_t>(w);
                }
            }
            if (ssl) SSL_shutdown(ssl);
        } catch (const std::exception& e) {
            server_error = e.what();
        }
        if (ssl) SSL_free(ssl);
        if (fd >= 0) close(fd);
    });

    std::string client_error, description = tls ? "" : "TCP";
    std::uint64_t got = 0;
    double elapsed = 0;
    int fd = -1;
    SSL* ssl = nullptr;
    try {
        fd = tcp_connect(o.host, port, o.timeout);
        std::vector<char> buf(chunk);
        if (tls) {
            ssl = SSL_new(cctx);
            SSL_set_fd(ssl, fd);
            int r = SSL_connect(ssl);
            if (r != 1) throw failure(ssl_failure(ssl, r, "client handshake"));
            description = describe(ssl);
        }
        auto t0 = clock_type::now();
        if (tls) {
            if (SSL_write(ssl, "g", 1) != 1) throw failure("client start: " + ssl_errors());
        } else if (::send(fd, "g", 1, MSG_NOSIGNAL) != 1) {
            throw failure("client start: " + std::string(std::strerror(errno)));
        }
        while (got < o.bytes) {
            if (tls) {
                int n = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
                if (n <= 0) throw failure(ssl_failure(ssl, n, "client read"));
                got += static_cast<std::uint64_t>(n);
            } else {
                ssize_t n = recv(fd, buf.data(), buf.size(), 0);
                if (n <= 0) throw failure("client read: " + std::string(n ? std::strerror(errno) : "EOF"));
                got += static_cast<std::uint64_t>(n);
            }
        }
        elapsed = seconds_since(t0);
    } catch (const std::exception& e) {
        client_error = e.what();
        if (fd >= 0) shutdown(fd, SHUT_RDWR);  // unblocks the server thread
    }
    server.join();
    if (ssl) SSL_free(ssl);
    if (fd >= 0) close(fd);
    close(lfd);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    const char* mode = tls ? "tls-stream" : "tcp-stream";
    if (!client_error.empty() || !server_error.empty()) {
        std::fprintf(stderr, "ftps_load %s: %s\n", mode,
                     (client_error.empty() ? server_error : client_error).c_str());
        return 1;
    }
    std::printf("{\"mode\": \"%s\", \"bytes\": %llu, \"seconds\": %.3f, \"mb_per_s\": %.1f, "
                "\"tls\": \"%s\"}\n",
                mode, static_cast<unsigned long long>(got), elapsed,
                static_cast<double>(got) / 1e6 / elapsed, description.c_str());
    return 0;
}

// --------------------------------------------------------------------------------------------

[[noreturn]] void usage(const char* msg, int status = 2) {
    if (msg) std::fprintf(stderr, "ftps_load: %s\n", msg);
    std::fprintf(stderr,
                 "usage: ftps_load sessions   [--workers 8] [--seconds 20]\n"
                 "       ftps_load files      [--count 1000] [--dir /]   (fetches DIR/file-00000 ...)\n"
                 "       ftps_load tls-stream [--bytes N]\n"
                 "       ftps_load tcp-stream [--bytes N]\n"
                 "       (tls-stream --read-ahead: the reading side uses OpenSSL read-ahead)\n"
                 "options: --host 127.0.0.1 --port N --user U --password P --tls13 | --tls12\n"
                 "         --timeout SECONDS (per socket operation, default 30)\n");
    std::exit(status);
}

std::uint64_t parse_bytes(const std::string& s) {
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    std::string suffix = end ? end : "";
    double mult = 1;
    if (suffix == "K" || suffix == "KiB") mult = 1024.0;
    else if (suffix == "M" || suffix == "MiB") mult = 1024.0 * 1024;
    else if (suffix == "G" || suffix == "GiB") mult = 1024.0 * 1024 * 1024;
    else if (!suffix.empty()) usage(("bad size: " + s).c_str());
    if (!(v > 0)) usage(("bad size: " + s).c_str());
    return static_cast<std::uint64_t>(v * mult);
}

options parse(int argc, char** argv) {
    options o;
    if (argc < 2) usage(nullptr);
    o.mode = argv[1];
    if (o.mode == "--help" || o.mode == "-h") usage(nullptr, 0);
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage((a + " needs a value").c_str());
            return argv[++i];
        };
        try {
            if (a == "--host") o.host = value();
            else if (a == "--port") o.port = std::stoi(value());
            else if (a == "--user") o.user = value();
            else if (a == "--password") o.password = value();
            else if (a == "--workers") o.workers = std::stoi(value());
            else if (a == "--seconds") o.seconds = std::stod(value());
            else if (a == "--count") o.count = std::stoi(value());
            else if (a == "--dir") o.dir = value();
            else if (a == "--bytes") o.bytes = parse_bytes(value());
            else if (a == "--timeout") o.timeout = std::stod(value());
            else if (a == "--tls13") o.tls_version = 13;
            else if (a == "--tls12") o.tls_version = 12;
            else if (a == "--read-ahead") o.read_ahead = true;
            else if (a == "--help" || a == "-h") usage(nullptr, 0);
            else usage(("unknown option " + a).c_str());
        } catch (const std::invalid_argument&) {
            usage(("bad value for " + a).c_str());
        } catch (const std::out_of_range&) {
            usage(("bad value for " + a).c_str());
        }
    }
    if (o.workers < 1 || o.count < 0 || !(o.seconds > 0) || !(o.timeout > 0) || o.port <= 0 ||
        o.port > 65535)
        usage("a numeric option is out of range");
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    options o = parse(argc, argv);
    store_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    try {
        if (o.mode == "sessions") return run_sessions(o);
        if (o.mode == "files") return run_files(o);
        if (o.mode == "tls-stream") return run_stream(o, true);
        if (o.mode == "tcp-stream") return run_stream(o, false);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ftps_load %s: %s\n", o.mode.c_str(), e.what());
        return 1;
    }
    usage(("unknown mode " + o.mode).c_str());
}
