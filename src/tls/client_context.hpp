#pragma once
// OpenSSL 3 client context for FTPS: trust store, client certificate, versions and ciphers, ALPN
// "ftp", and capture of the control connection's session so that data connections can resume it
// (TLS 1.2 sessions and TLS 1.3 tickets alike). No FTP knowledge here.
#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace ferry::tls {

struct client_options {
    int min_version = TLS1_2_VERSION;
    int max_version = 0;          // 0: the highest OpenSSL supports
    std::string cipher_list;      // TLS 1.2 and below, OpenSSL syntax ("A:B"); empty: defaults
    std::string ciphersuites;     // TLS 1.3 ("TLS_AES_128_GCM_SHA256:..."); empty: defaults
    std::string ca_file;          // PEM CAs to trust instead of the system store; empty: system store
    std::string cert_file;        // client certificate chain (PEM); empty: none
    std::string key_file;         // its key; empty: read from cert_file
};

// What the server's certificate is and whether it is trusted, after a completed handshake.
// The handshake itself does not fail on an untrusted certificate: the caller decides, with this,
// before any byte of the session is sent (so that a pinned fingerprint or trust-on-first-use can
// accept a self-signed server, and every refusal gets a message that says what to do).
struct peer_check {
    bool has_cert = false;
    bool chain_ok = false;     // chains to a trusted CA and is within its validity
    bool name_ok = false;      // the certificate names the host (DNS name or IP address)
    std::string chain_error;   // OpenSSL's reason when !chain_ok, e.g. "self-signed certificate"
    std::string fingerprint;   // "SHA256:AB:CD:..."
    std::string subject, issuer, not_after;
    bool trusted() const { return has_cert && chain_ok && name_ok; }
};

class client_context {
public:
    ~client_context();
    client_context(const client_context&) = delete;
    client_context& operator=(const client_context&) = delete;

    static std::shared_ptr<client_context> make(const client_options& opts, std::string& error);
    SSL_CTX* native() const { return ctx_; }

    // host: the name the user connected to (a DNS name or an IP literal).
    static peer_check check_peer(SSL* ssl, const std::string& host);
    // "TLSv1.3, TLS_AES_256_GCM_SHA384"
    static std::string describe(SSL* ssl);

private:
    explicit client_context(SSL_CTX* ctx) : ctx_(ctx) {}
    SSL_CTX* ctx_;
};

// The latest resumable session of one control connection. TLS 1.2 gives it with the handshake;
// with TLS 1.3 the server sends tickets after the handshake, which OpenSSL only processes while
// reading the control connection; attach() installs a callback that catches them then.
class session_slot {
public:
    session_slot() = default;
    ~session_slot();
    session_slot(const session_slot&) = delete;
    session_slot& operator=(const session_slot&) = delete;

    // After the control connection's handshake: keep its session and listen for new tickets.
    void attach(SSL* control);
    // Before the control SSL goes away (CCC, close): stop listening; the session stays usable.
    void detach();
    void clear();

    SSL_SESSION* get() const { return session_; }
    // A data connection can offer it (TLS 1.3: a ticket has arrived).
    bool resumable() const;
    int tickets() const { return tickets_; }

private:
    friend int on_new_session(SSL*, SSL_SESSION*);
    void replace(SSL_SESSION* s);
    SSL_SESSION* session_ = nullptr;
    SSL* control_ = nullptr;
    int tickets_ = 0;
};

}  // namespace ferry::tls
