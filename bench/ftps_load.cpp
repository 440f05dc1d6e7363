// ftps_load: the load client of Ferry's benchmark (bench/bench.py, issue 6).
//
// Plain OpenSSL on blocking POSIX sockets with one std::thread per worker: small, and fast
// enough not to be the bottleneck against any of the servers measured. Every socket has a
// send and receive timeout (--timeout), so every wait is bounded. Each mode prints one JSON
// line on stdout; any error ends the program with a message on stderr and exit status 1
// (except in busy, which counts a session's errors and reports them in its JSON line).
//
//   ftps_load sessions   --workers 8 --seconds 20      connect, 220, AUTH TLS, handshake,
//                                                      USER/PASS, PWD, QUIT: sessions/s
//   ftps_load files      --count 1000 --dir /small     one session: PBSZ 0, PROT P, TYPE I, then
//                                                      per file EPSV + RETR DIR/file-NNNNN + a
//                                                      TLS data connection resuming the control
//                                                      session: files/s and resumptions
//   ftps_load busy       --sessions 200 --seconds 15   many busy sessions (issue 17): every
//                        --dir /busy --small-size 4K   session connects and logs in first (PBSZ
//                        --medium-size 1M              0, PROT P, TYPE I; not timed, a barrier),
//                                                      then for SECONDS each loops RETR DIR/small,
//                                                      STOR DIR/busy-<session>-<k>-small, RETR
//                                                      DIR/medium, STOR DIR/busy-<session>-<k>-
//                                                      medium, every data connection PROT P and
//                                                      offering the session's newest TLS session:
//                                                      aggregate MB/s, files/s, p50/p90/p99/max
//                                                      ms per file (EPSV to the 226), also
//                                                      without each session's first file (they
//                                                      all start at once), per-session MB/s
//   ftps_load busy       --sessions 50 --big /big.bin  the same sessions each RETR one big file
//                        [--big-size N]                again and again for SECONDS: each
//                                                      session's MB/s, min, max, max/min
//   ftps_load tls-stream --bytes N                     server and client threads in this process,
//   ftps_load tcp-stream --bytes N                     one stream over 127.0.0.1: MB/s
//
// Common options: --host 127.0.0.1 --port N --user U --password P --tls13 (default) | --tls12
//                 --timeout SECONDS (per socket operation, default 30)
// tls-stream --read-ahead: the reading side uses OpenSSL's read-ahead (fewer, larger reads).
// tls-stream --to FILE: the reading side also writes each filled 256 KiB buffer to FILE, as an
// FTP server's upload does (what the file system adds to the machine's limit for uploads).
// MB is 10^6 bytes.
//
// busy: one thread per session with a 256 KiB stack; at most 16 logins at a time during the
// ramp-up (--ramp-timeout bounds it; a session not logged in by then counts as an error). The
// window is exactly SECONDS (session i starts at step i % 4 of the cycle, so that the sessions
// do not move in lockstep): bytes count while it lasts (also those of a transfer it cuts), a
// file counts if its 226 came within it. At its end every data connection is reset (a transfer
// in flight ends), sessions between files send QUIT, and 5 s later every control connection is
// reset too: the program ends within ramp-up + SECONDS + about 10 s. A
// session's error is counted (errors, first_error), not fatal: that session stops, and
// "held" counts the sessions that logged in and ran the whole window without one. The
// per-session figures (min/max/ratio) are over the held sessions. Uploads end with
// close_notify and read the data connection to its end (the server's TLS 1.3 tickets, kept
// for the next data connection; vsftpd 3.0.3 loses an upload whose client leaves them
// unread). stderr gets "ftps_load busy: window start" and "... window end" as they happen
// (bench.py samples the server's CPU then); stdout gets one JSON line at the end.

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <span>
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
    std::string to_file;  // tls-stream / tcp-stream: the receiver writes what it reads here
    double timeout = 30;
    // busy
    int sessions = 200;
    std::uint64_t small_size = 4096;
    std::uint64_t medium_size = 1 << 20;
    std::string big;                 // busy with big transfers: RETR this file again and again
    std::uint64_t big_size = 0;      // if not 0: the size every complete RETR of it must have
    double ramp_timeout = 0;         // 0: 120 s + 0.2 s per session
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

// The sockets of one busy session, so that another thread can end its transfers at the end of
// the window (shutdown() also ends a read or write blocked in them). Sockets are registered
// before they are used and unregistered before they are closed, under one mutex: a descriptor
// is never shut down after its number was reused.
class fd_watch {
public:
    // A socket registered after stop() is ended at once.
    void add(int fd, bool is_control) {
        std::lock_guard lk(mu_);
        (is_control ? control_ : data_) = fd;
        if (is_control ? stop_all_ : stop_data_) abort(fd);
    }
    void remove(int fd) {
        std::lock_guard lk(mu_);
        if (control_ == fd) control_ = -1;
        if (data_ == fd) data_ = -1;
    }
    // Shuts the data connection down; all: the control connection too.
    void stop(bool all) {
        std::lock_guard lk(mu_);
        stop_data_ = true;
        stop_all_ = stop_all_ || all;
        if (data_ >= 0) abort(data_);
        if (all && control_ >= 0) abort(control_);
    }

private:
    // Wakes the thread blocked in the socket, and makes its close() a reset (SO_LINGER 0). A
    // plain shutdown() sends a FIN and leaves the closed socket in FIN_WAIT2 with a zero window
    // for tcp_fin_timeout (60 s): a server writing to it (vsftpd) sits out that minute.
    static void abort(int fd) {
        linger lg{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        ::shutdown(fd, SHUT_RDWR);
    }

    std::mutex mu_;
    int control_ = -1, data_ = -1;
    bool stop_data_ = false, stop_all_ = false;
};

int tcp_connect(const std::string& host, int port, double timeout, fd_watch* watch = nullptr,
                bool is_control = false) {
    sockaddr_in sa = make_address(host, port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw failure(std::string("socket: ") + std::strerror(errno));
    set_timeouts(fd, timeout);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (watch) watch->add(fd, is_control);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        int e = errno;
        if (watch) watch->remove(fd);
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
    explicit control(const options& o, fd_watch* watch = nullptr) : o_(o), watch_(watch) {
        fd_ = tcp_connect(o.host, o.port, o.timeout, watch, true);
    }
    ~control() {
        if (ssl_) SSL_free(ssl_);
        if (fd_ >= 0) {
            if (watch_) watch_->remove(fd_);
            close(fd_);
        }
    }
    control(const control&) = delete;
    control& operator=(const control&) = delete;

    SSL* ssl() const { return ssl_; }
    const options& opts() const { return o_; }
    fd_watch* watch() const { return watch_; }

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
    fd_watch* watch_ = nullptr;
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

// Connect, AUTH TLS, login, then PBSZ 0, PROT P, TYPE I: a session ready for PROT P transfers.
// The control connection's TLS sessions (1.3 tickets) go into store.
std::unique_ptr<control> open_session(const options& o, SSL_CTX* ctx, session_store* store,
                                      fd_watch* watch = nullptr) {
    auto c = std::make_unique<control>(o, watch);
    login(*c, ctx, store, o);
    c->expect("PBSZ 0", 200);
    c->expect("PROT P", 200);
    c->expect("TYPE I", 200);
    return c;
}

int epsv_port(const std::string& text) {
    auto a = text.find("(|||");
    auto b = a == std::string::npos ? a : text.find('|', a + 4);
    if (b == std::string::npos) throw failure("cannot parse the EPSV reply: " + text);
    return std::stoi(text.substr(a + 4, b - a - 4));
}

// One PROT P data connection (closed, and unregistered from its session's fd_watch, on reset).
struct data_link {
    int fd = -1;
    SSL* ssl = nullptr;
    fd_watch* watch = nullptr;

    data_link() = default;
    data_link(const data_link&) = delete;
    data_link& operator=(const data_link&) = delete;
    ~data_link() { reset(); }
    void reset() {
        if (ssl) SSL_free(ssl);
        ssl = nullptr;
        if (fd >= 0) {
            if (watch) watch->remove(fd);
            close(fd);
        }
        fd = -1;
    }
};

// EPSV, a TCP connection to the port it names, CMD (RETR or STOR: sent before the data
// connection's TLS handshake, as stock pyftpdlib needs), and that handshake, offering the FTP
// session's newest TLS session for resumption. TLS 1.3 tickets that arrived on the control
// connection are read first, so the newest one can be offered.
void open_data(control& c, SSL_CTX* ctx, session_store& store, const std::string& cmd,
               data_link& d) {
    c.drain_pending();
    int port = epsv_port(c.expect("EPSV", 229).text);
    d.watch = c.watch();
    d.fd = tcp_connect(c.opts().host, port, c.opts().timeout, d.watch, false);
    d.ssl = SSL_new(ctx);
    if (!d.ssl) throw failure("SSL_new: " + ssl_errors());
    SSL_set_read_ahead(d.ssl, 1);  // one read per flight, not a header and a body per record
    SSL_set_ex_data(d.ssl, store_index, &store);
    SSL_set_fd(d.ssl, d.fd);
    if (SSL_SESSION* s = store.pick()) SSL_set_session(d.ssl, s);
    c.send(cmd);
    int r = SSL_connect(d.ssl);
    if (r != 1) {
        std::string msg = ssl_failure(d.ssl, r, "data TLS handshake");
        d.reset();
        try {
            msg += "; server: " + c.read_reply().text;
        } catch (const std::exception&) {
        }
        throw failure(msg);
    }
}

// Reads a download to its end (the server's close_notify, or a TCP EOF without one: unclean),
// then sends our close_notify. on_bytes(n) sees every piece. Returns the bytes read.
template <class OnBytes>
std::uint64_t read_download(data_link& d, std::vector<char>& buf, bool& unclean, OnBytes&& on_bytes) {
    std::uint64_t got = 0;
    unclean = false;
    for (;;) {
        int n = SSL_read(d.ssl, buf.data(), static_cast<int>(buf.size()));
        if (n > 0) {
            got += static_cast<std::uint64_t>(n);
            on_bytes(static_cast<std::size_t>(n));
            continue;
        }
        int err = SSL_get_error(d.ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN) break;  // close_notify
        if (err == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0) {
            unclean = true;  // TCP EOF without close_notify
            break;
        }
        throw failure(ssl_failure(d.ssl, n, "reading the data connection"));
    }
    SSL_shutdown(d.ssl);  // our close_notify
    return got;
}

// Writes an upload of size bytes (data repeated as needed), then ends it: close_notify and a
// TCP FIN, and reads the data connection to its end, so that the server's TLS 1.3 tickets are
// read (kept for the next data connection; a close with them unread sends a RST, and vsftpd
// 3.0.3 then loses the end of the file).
template <class OnBytes>
void write_upload(data_link& d, const std::vector<char>& data, std::uint64_t size,
                  std::vector<char>& buf, OnBytes&& on_bytes) {
    std::uint64_t left = size;
    while (left) {
        int n = static_cast<int>(std::min<std::uint64_t>(left, data.size()));
        int w = SSL_write(d.ssl, data.data(), n);
        if (w <= 0) throw failure(ssl_failure(d.ssl, w, "writing the data connection"));
        left -= static_cast<std::uint64_t>(w);
        on_bytes(static_cast<std::size_t>(w));
    }
    int r = SSL_shutdown(d.ssl);
    if (r < 0) throw failure(ssl_failure(d.ssl, r, "ending the upload (close_notify)"));
    ::shutdown(d.fd, SHUT_WR);
    for (int i = 0; i < 1000; ++i)
        if (SSL_read(d.ssl, buf.data(), static_cast<int>(buf.size())) <= 0) break;
    ERR_clear_error();
}

// The replies that end a transfer: 150/125 (if not read yet), then 226 or 250.
void finish_transfer(control& c, const std::string& cmd) {
    reply rep = c.read_reply();
    if (rep.code == 150 || rep.code == 125) rep = c.read_reply();
    if (rep.code != 226 && rep.code != 250) throw failure(cmd + " -> " + rep.text);
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

int run_files(const options& o) {
    SSL_CTX* ctx = make_client_ctx(o, true);
    session_store store;
    long resumed = 0, unclean = 0;
    std::uint64_t bytes = 0;
    std::string data_tls;
    std::vector<char> buf(256 * 1024);
    auto t0 = clock_type::now();
    try {
        auto c = open_session(o, ctx, &store);
        std::string dir = o.dir;
        if (dir.empty() || dir.back() != '/') dir += '/';
        t0 = clock_type::now();
        for (int i = 0; i < o.count; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "file-%05d", i);
            std::string cmd = "RETR " + dir + name;
            data_link d;
            try {
                open_data(*c, ctx, store, cmd, d);
                if (SSL_session_reused(d.ssl)) ++resumed;
                if (data_tls.empty()) data_tls = describe(d.ssl);
                bool eof_unclean = false;
                bytes += read_download(d, buf, eof_unclean, [](std::size_t) {});
                if (eof_unclean) ++unclean;
            } catch (const failure& e) {
                throw failure(std::string(e.what()) + " (file " + std::to_string(i) + ")");
            }
            d.reset();
            finish_transfer(*c, cmd);
        }
        double elapsed = seconds_since(t0);
        c->quit();
        std::printf("{\"mode\": \"files\", \"files\": %d, \"bytes\": %llu, \"seconds\": %.3f, "
                    "\"per_second\": %.1f, \"resumed\": %ld, \"tickets\": %ld, \"unclean_eof\": %ld, "
                    "\"control_tls\": \"%s\", \"data_tls\": \"%s\"}\n",
                    o.count, static_cast<unsigned long long>(bytes), elapsed,
                    static_cast<double>(o.count) / elapsed, resumed, store.received, unclean,
                    describe(c->ssl()).c_str(), data_tls.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ftps_load files: %s\n", e.what());
        SSL_CTX_free(ctx);
        return 1;
    }
    SSL_CTX_free(ctx);
    return 0;
}

// --------------------------------------------------------------------------------------------
// busy: many sessions transferring at once (issue 17)

// A thread with a small stack (std::thread cannot set one): a thousand sessions, a thousand
// threads.
class small_thread {
public:
    small_thread(std::function<void()> fn, std::size_t stack) {
        auto* f = new std::function<void()>(std::move(fn));
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, stack);
        int e = pthread_create(&t_, &attr, &small_thread::trampoline, f);
        pthread_attr_destroy(&attr);
        if (e != 0) {
            delete f;
            throw failure(std::string("pthread_create: ") + std::strerror(e));
        }
    }
    small_thread(const small_thread&) = delete;
    small_thread& operator=(const small_thread&) = delete;
    void join() { pthread_join(t_, nullptr); }

private:
    static void* trampoline(void* p) {
        std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(p));
        (*f)();
        return nullptr;
    }
    pthread_t t_{};
};

enum busy_kind { small_retr, small_stor, medium_retr, medium_stor, big_retr, busy_kinds };
const char* const busy_kind_names[busy_kinds] = {"small_retr", "small_stor", "medium_retr",
                                                 "medium_stor", "big_retr"};

struct busy_session {
    fd_watch watch;
    std::atomic<std::uint64_t> bytes{0};  // moved within the window
    std::mutex mu;                         // guards what follows
    std::vector<float> ms[busy_kinds];     // ms per file whose 226 came within the window
    int first_kind = -1;                   // the kind whose ms[...][0] is the session's first file
    long resumed = 0, data_connections = 0;
    bool logged_in = false, failed = false;
};

struct busy_run {
    busy_run(const options& opts, SSL_CTX* c) : o(opts), ctx(c) {}
    const options& o;
    SSL_CTX* ctx;
    std::vector<char> payload;  // what uploads send (repeated as needed)
    std::string dir;            // with a trailing '/'
    std::counting_semaphore<1024> login_slots{16};
    std::atomic<bool> data_tls_known{false};
    std::mutex mu;  // guards what follows
    std::condition_variable cv;
    int arrived = 0, logged_in = 0, finished = 0;
    bool go = false;
    clock_type::time_point t0, deadline;
    long errors = 0;
    std::string first_error, control_tls, data_tls;
};

// One file: EPSV to the final 226. Bytes count while the window lasts; the time counts if the
// 226 came within it.
void busy_transfer(busy_run& run, busy_session& s, control& c, session_store& store,
                   std::vector<char>& buf, int kind, int index, long k,
                   clock_type::time_point deadline) {
    const options& o = run.o;
    const bool up = kind == small_stor || kind == medium_stor;
    const std::uint64_t size = kind == big_retr ? o.big_size
                               : (kind == small_retr || kind == small_stor) ? o.small_size
                                                                             : o.medium_size;
    std::string cmd;
    if (kind == big_retr)
        cmd = "RETR " + o.big;
    else if (up)
        cmd = "STOR " + run.dir + "busy-" + std::to_string(index) + "-" + std::to_string(k) +
              (kind == small_stor ? "-small" : "-medium");
    else
        cmd = "RETR " + run.dir + (kind == small_retr ? "small" : "medium");
    auto count = [&](std::size_t n) {
        if (clock_type::now() < deadline) s.bytes.fetch_add(n, std::memory_order_relaxed);
    };
    auto t = clock_type::now();
    data_link d;
    open_data(c, run.ctx, store, cmd, d);
    const bool resumed = SSL_session_reused(d.ssl) == 1;
    if (!run.data_tls_known.exchange(true)) {
        std::lock_guard lk(run.mu);
        run.data_tls = describe(d.ssl);
    }
    if (up) {
        write_upload(d, run.payload, size, buf, count);
    } else {
        bool unclean = false;
        std::uint64_t got = read_download(d, buf, unclean, count);
        if (size && got != size && clock_type::now() < deadline) {
            std::string msg = cmd + ": " + std::to_string(got) + " bytes, expected " + std::to_string(size);
            d.reset();
            try {
                msg += "; server: " + c.read_reply().text;
            } catch (const std::exception&) {
            }
            throw failure(msg);
        }
    }
    d.reset();
    finish_transfer(c, cmd);
    auto end = clock_type::now();
    std::lock_guard lk(s.mu);
    const bool first = s.data_connections++ == 0;
    if (resumed) ++s.resumed;
    if (end < deadline) {
        s.ms[kind].push_back(static_cast<float>(std::chrono::duration<double, std::milli>(end - t).count()));
        if (first) s.first_kind = kind;
    }
}

void busy_session_main(busy_run& run, busy_session& s, int index) {
    const options& o = run.o;
    session_store store;
    std::unique_ptr<control> c;
    std::vector<char> buf(64 * 1024);
    std::string error;
    try {
        run.login_slots.acquire();  // the ramp-up is not timed; a server's backlog is finite
        struct release_slot {
            busy_run& r;
            ~release_slot() { r.login_slots.release(); }
        } slot{run};
        c = open_session(o, run.ctx, &store, &s.watch);
    } catch (const std::exception& e) {
        error = std::string("login: ") + e.what();
    }
    clock_type::time_point deadline;
    {
        std::unique_lock lk(run.mu);
        if (run.go && error.empty()) error = "login not complete within the ramp-up limit";
        if (error.empty()) {
            ++run.logged_in;
            if (run.control_tls.empty()) run.control_tls = describe(c->ssl());
        }
        ++run.arrived;
        run.cv.notify_all();
        run.cv.wait(lk, [&] { return run.go; });  // the barrier
        deadline = run.deadline;
    }
    if (error.empty()) {
        {
            std::lock_guard lk(s.mu);
            s.logged_in = true;
        }
        static constexpr int files_plan[] = {small_retr, small_stor, medium_retr, medium_stor};
        static constexpr int big_plan[] = {big_retr};
        const std::span<const int> plan = o.big.empty() ? std::span<const int>(files_plan)
                                                        : std::span<const int>(big_plan);
        bool clean = true;
        try {
            // Session i starts at step i % 4 of the cycle: the sessions do not move in lockstep,
            // and at any moment the mix of files in flight is the cycle's.
            for (long step = index % static_cast<long>(plan.size()); clock_type::now() < deadline; ++step) {
                const long k = step / static_cast<long>(plan.size());
                busy_transfer(run, s, *c, store, buf, plan[static_cast<std::size_t>(step) % plan.size()],
                              index, k, deadline);
            }
        } catch (const std::exception& e) {
            clean = false;
            // An error after the end of the window is the end of a transfer it cut: not counted.
            if (clock_type::now() < deadline) error = e.what();
        }
        if (clean) {
            try {
                c->quit();
            } catch (const std::exception&) {
            }
        }
    }
    c.reset();
    {
        std::lock_guard lk(s.mu);
        s.failed = !error.empty();
    }
    std::lock_guard lk(run.mu);
    if (!error.empty()) {
        ++run.errors;
        if (run.first_error.empty()) run.first_error = "session " + std::to_string(index) + ": " + error;
    }
    ++run.finished;
    run.cv.notify_all();
}

std::string json_string(const std::string& in) {
    std::string out = "\"";
    for (unsigned char ch : in) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += static_cast<char>(ch);
        } else if (ch < 0x20) {
            char tmp[8];
            std::snprintf(tmp, sizeof tmp, "\\u%04x", ch);
            out += tmp;
        } else {
            out += static_cast<char>(ch);
        }
    }
    return out + "\"";
}

std::string json_number(double v, const char* fmt = "%.3f") {
    if (!std::isfinite(v)) return "null";
    char tmp[64];
    std::snprintf(tmp, sizeof tmp, fmt, v);
    return tmp;
}

// Nearest-rank percentile of sorted values (NaN if there are none).
double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return std::nan("");
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

std::string latency_json(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    return "{\"files\": " + std::to_string(ms.size()) + ", \"p50_ms\": " + json_number(percentile(ms, 50)) +
           ", \"p90_ms\": " + json_number(percentile(ms, 90)) + ", \"p99_ms\": " + json_number(percentile(ms, 99)) +
           ", \"max_ms\": " + json_number(percentile(ms, 100)) + "}";
}

int run_busy(const options& o) {
    SSL_CTX* ctx = make_client_ctx(o, true);
    busy_run run(o, ctx);
    run.dir = o.dir.empty() || o.dir.back() != '/' ? o.dir + "/" : o.dir;
    run.payload.resize(256 * 1024);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(run.payload.data()),
                   static_cast<int>(run.payload.size())) != 1)
        throw failure("RAND_bytes: " + ssl_errors());
    const int n = o.sessions;
    std::vector<std::unique_ptr<busy_session>> sessions;
    for (int i = 0; i < n; ++i) sessions.push_back(std::make_unique<busy_session>());
    std::vector<std::unique_ptr<small_thread>> threads;
    std::string thread_error;
    for (int i = 0; i < n; ++i) {
        try {
            busy_session& s = *sessions[static_cast<std::size_t>(i)];
            threads.push_back(std::make_unique<small_thread>(
                [&run, &s, i] { busy_session_main(run, s, i); }, 256 * 1024));
        } catch (const std::exception& e) {
            thread_error = e.what();
            break;
        }
    }
    const int started = static_cast<int>(threads.size());
    const auto ramp0 = clock_type::now();
    const double ramp_limit = o.ramp_timeout > 0 ? o.ramp_timeout : 120 + 0.2 * n;
    double ramp_seconds = 0;
    int logged_in = 0;
    {
        std::unique_lock lk(run.mu);
        if (started < n) {
            run.errors += n - started;
            run.first_error = "only " + std::to_string(started) + " threads started: " + thread_error;
        }
        run.cv.wait_until(lk, ramp0 + std::chrono::duration_cast<clock_type::duration>(
                                          std::chrono::duration<double>(ramp_limit)),
                          [&] { return run.arrived == started; });
        run.t0 = clock_type::now();
        run.deadline = run.t0 + std::chrono::duration_cast<clock_type::duration>(
                                    std::chrono::duration<double>(o.seconds));
        run.go = true;
        ramp_seconds = std::chrono::duration<double>(run.t0 - ramp0).count();
        logged_in = run.logged_in;
        run.cv.notify_all();
    }
    std::fprintf(stderr, "ftps_load busy: window start (%d of %d sessions logged in, ramp-up %.1f s)\n",
                 logged_in, n, ramp_seconds);
    std::fflush(stderr);
    std::this_thread::sleep_until(run.deadline);
    for (auto& s : sessions) s->watch.stop(false);  // transfers in flight end now
    std::fprintf(stderr, "ftps_load busy: window end\n");
    std::fflush(stderr);
    // Sessions between files send QUIT; after a grace period every control connection is shut
    // down, and after another the program ends with what it has.
    const auto grace = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(std::min(5.0, o.timeout)));
    int stuck = 0;
    {
        std::unique_lock lk(run.mu);
        if (!run.cv.wait_for(lk, grace, [&] { return run.finished == started; })) {
            lk.unlock();
            for (auto& s : sessions) s->watch.stop(true);
            lk.lock();
            run.cv.wait_for(lk, grace, [&] { return run.finished == started; });
        }
        stuck = started - run.finished;
    }

    // Figures
    std::vector<double> all_ms, kind_ms[busy_kinds], per_session;
    std::uint64_t bytes = 0;
    long resumed = 0, data_connections = 0;
    int held = 0;
    for (auto& sp : sessions) {
        busy_session& s = *sp;
        std::uint64_t b = s.bytes.load();
        bytes += b;
        std::lock_guard lk(s.mu);
        for (int k = 0; k < busy_kinds; ++k)
            for (float v : s.ms[k]) {
                kind_ms[k].push_back(v);
                all_ms.push_back(v);
            }
        resumed += s.resumed;
        data_connections += s.data_connections;
        if (s.logged_in && !s.failed) {
            ++held;
            per_session.push_back(static_cast<double>(b) / 1e6 / o.seconds);
        }
    }
    std::sort(all_ms.begin(), all_ms.end());
    std::vector<double> sorted_sessions = per_session;
    std::sort(sorted_sessions.begin(), sorted_sessions.end());
    double smin = sorted_sessions.empty() ? std::nan("") : sorted_sessions.front();
    double smax = sorted_sessions.empty() ? std::nan("") : sorted_sessions.back();
    const bool big = !o.big.empty();
    std::string out = "{\"mode\": \"busy\", \"kind\": \"";
    out += big ? "big" : "files";
    out += "\", \"sessions\": " + std::to_string(n) + ", \"logged_in\": " + std::to_string(logged_in) +
           ", \"held\": " + std::to_string(held) + ", \"seconds\": " + json_number(o.seconds) +
           ", \"ramp_seconds\": " + json_number(ramp_seconds) + ", \"files\": " +
           std::to_string(all_ms.size()) + ", \"bytes\": " + std::to_string(bytes) +
           ", \"mb_per_s\": " + json_number(static_cast<double>(bytes) / 1e6 / o.seconds) +
           ", \"files_per_s\": " + json_number(static_cast<double>(all_ms.size()) / o.seconds) +
           ", \"p50_ms\": " + json_number(percentile(all_ms, 50)) +
           ", \"p99_ms\": " + json_number(percentile(all_ms, 99)) + ", \"by_kind\": {";
    bool first = true;
    for (int k = 0; k < busy_kinds; ++k) {
        if ((k == big_retr) != big) continue;
        out += std::string(first ? "" : ", ") + "\"" + busy_kind_names[k] + "\": " + latency_json(kind_ms[k]);
        first = false;
    }
    if (!big) {
        std::vector<double> small = kind_ms[small_retr], medium = kind_ms[medium_retr];
        small.insert(small.end(), kind_ms[small_stor].begin(), kind_ms[small_stor].end());
        medium.insert(medium.end(), kind_ms[medium_stor].begin(), kind_ms[medium_stor].end());
        out += ", \"small\": " + latency_json(small) + ", \"medium\": " + latency_json(medium);
        // Every session's first file starts at the same instant: the same figures without them.
        std::vector<double> later[2];
        for (auto& sp : sessions) {
            busy_session& s = *sp;
            std::lock_guard lk(s.mu);
            for (int k : {small_retr, small_stor, medium_retr, medium_stor})
                for (std::size_t j = k == s.first_kind ? 1 : 0; j < s.ms[k].size(); ++j)
                    later[k == medium_retr || k == medium_stor].push_back(s.ms[k][j]);
        }
        out += ", \"small_later\": " + latency_json(later[0]) + ", \"medium_later\": " + latency_json(later[1]);
    }
    out += "}, \"per_session_mb_per_s\": {\"min\": " + json_number(smin) +
           ", \"median\": " + json_number(percentile(sorted_sessions, 50)) + ", \"max\": " + json_number(smax) +
           ", \"ratio\": " + json_number(smin > 0 ? smax / smin : std::nan("")) + "}";
    if (big) {
        out += ", \"session_mb_per_s\": [";
        for (std::size_t i = 0; i < per_session.size(); ++i)
            out += (i ? ", " : "") + json_number(per_session[i], "%.2f");
        out += "]";
    }
    long errors = 0;
    std::string first_error, control_tls, data_tls;
    {
        std::lock_guard lk(run.mu);
        errors = run.errors;
        first_error = run.first_error;
        control_tls = run.control_tls;
        data_tls = run.data_tls;
    }
    out += ", \"errors\": " + std::to_string(errors) + ", \"first_error\": " +
           (first_error.empty() ? std::string("null") : json_string(first_error)) +
           ", \"resumed\": " + std::to_string(resumed) + ", \"data_connections\": " +
           std::to_string(data_connections) + ", \"stuck\": " + std::to_string(stuck) +
           ", \"small_size\": " + std::to_string(big ? 0 : o.small_size) +
           ", \"medium_size\": " + std::to_string(big ? 0 : o.medium_size) +
           ", \"big_size\": " + std::to_string(big ? o.big_size : 0) +
           ", \"control_tls\": " + json_string(control_tls) + ", \"data_tls\": " +
           json_string(data_tls) + "}\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    if (stuck) {
        // A thread still blocked (in a connect): end without it; the kernel closes its sockets.
        std::fflush(stderr);
        std::_Exit(0);
    }
    for (auto& t : threads) t->join();
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
    int out = -1;
    SSL* ssl = nullptr;
    try {
        fd = tcp_connect(o.host, port, o.timeout);
        std::vector<char> buf(chunk);
        // --to: every filled buffer is written to the file, as an FTP server's upload does.
        if (!o.to_file.empty()) {
            out = ::open(o.to_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (out < 0) throw failure(o.to_file + ": " + std::strerror(errno));
        }
        std::size_t filled = 0;
        auto flush = [&] {
            for (std::size_t done = 0; done < filled;) {
                ssize_t w = ::write(out, buf.data() + done, filled - done);
                if (w <= 0) throw failure(o.to_file + ": " + std::strerror(errno));
                done += static_cast<std::size_t>(w);
            }
            filled = 0;
        };
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
            std::size_t n = 0;
            if (tls) {
                int r = SSL_read(ssl, buf.data() + filled, static_cast<int>(buf.size() - filled));
                if (r <= 0) throw failure(ssl_failure(ssl, r, "client read"));
                n = static_cast<std::size_t>(r);
            } else {
                ssize_t r = recv(fd, buf.data() + filled, buf.size() - filled, 0);
                if (r <= 0) throw failure("client read: " + std::string(r ? std::strerror(errno) : "EOF"));
                n = static_cast<std::size_t>(r);
            }
            got += n;
            if (out >= 0) {
                filled += n;
                if (filled == buf.size() || got >= o.bytes) flush();
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
    if (out >= 0) {
        close(out);
        ::unlink(o.to_file.c_str());
    }
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
                 "       ftps_load busy       [--sessions 200] [--seconds 20] [--dir /]\n"
                 "                            [--small-size 4K] [--medium-size 1M]\n"
                 "           every session logs in first (a barrier), then loops for SECONDS: RETR\n"
                 "           DIR/small, STOR DIR/busy-<session>-<k>-small, RETR DIR/medium, STOR\n"
                 "           DIR/busy-<session>-<k>-medium (PROT P, data TLS resumed); DIR/small and\n"
                 "           DIR/medium must have the given sizes. One JSON line: aggregate MB/s,\n"
                 "           files/s, p50/p99 ms per file (EPSV to 226), per-session MB/s min/max,\n"
                 "           errors (counted, not fatal) and sessions held\n"
                 "       ftps_load busy       --big PATH [--big-size N] [--sessions 200] [--seconds 20]\n"
                 "           every session RETRs PATH again and again: each session's MB/s, max/min\n"
                 "           busy: --ramp-timeout SECONDS bounds the logins (default 120 + 0.2 per\n"
                 "           session); at most 16 at a time\n"
                 "       ftps_load tls-stream [--bytes N]\n"
                 "       ftps_load tcp-stream [--bytes N]\n"
                 "       (tls-stream --read-ahead: the reading side uses OpenSSL read-ahead;\n"
                 "        --to FILE: it writes every filled 256 KiB buffer to FILE, removed at the end)\n"
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
            else if (a == "--to") o.to_file = value();
            else if (a == "--sessions") o.sessions = std::stoi(value());
            else if (a == "--small-size") o.small_size = parse_bytes(value());
            else if (a == "--medium-size") o.medium_size = parse_bytes(value());
            else if (a == "--big") o.big = value();
            else if (a == "--big-size") o.big_size = parse_bytes(value());
            else if (a == "--ramp-timeout") o.ramp_timeout = std::stod(value());
            else if (a == "--help" || a == "-h") usage(nullptr, 0);
            else usage(("unknown option " + a).c_str());
        } catch (const std::invalid_argument&) {
            usage(("bad value for " + a).c_str());
        } catch (const std::out_of_range&) {
            usage(("bad value for " + a).c_str());
        }
    }
    if (o.workers < 1 || o.count < 0 || !(o.seconds > 0) || !(o.timeout > 0) || o.port <= 0 ||
        o.port > 65535 || o.sessions < 1 || o.sessions > 100000 || o.ramp_timeout < 0)
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
        if (o.mode == "busy") return run_busy(o);
        if (o.mode == "tls-stream") return run_stream(o, true);
        if (o.mode == "tcp-stream") return run_stream(o, false);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ftps_load %s: %s\n", o.mode.c_str(), e.what());
        return 1;
    }
    usage(("unknown mode " + o.mode).c_str());
}
