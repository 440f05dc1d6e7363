#pragma once
// OpenSSL 3 client context for FTPS: trust store, client certificate, versions and ciphers, ALPN
// "ftp", and capture of the control connection's session so that data connections can resume it
// (TLS 1.2 sessions and TLS 1.3 tickets alike). No FTP knowledge here.

#include "tls/context.hpp"
#include "tls/stream.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ferry::tls {

struct client_options {
    std::optional<protocol_version> min_version = protocol_version::tls1_2;  // empty: the lowest OpenSSL allows
    std::optional<protocol_version> max_version;  // empty: the highest OpenSSL supports
    std::string cipher_list;      // TLS 1.2 and below, OpenSSL syntax ("A:B"); empty: defaults
    std::string ciphersuites;     // TLS 1.3 ("TLS_AES_128_GCM_SHA256:..."); empty: defaults
    std::string ca_file;          // PEM CAs to trust instead of the system store; empty: system store
    bool no_ca_store = false;     // trust no CA (a pinned fingerprint decides): no store to load
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

    // host: the name the user connected to (a DNS name or an IP literal).
    static peer_check check_peer(const stream& s, const std::string& host);
    // "TLSv1.3, TLS_AES_256_GCM_SHA384"
    static std::string describe(const stream& s);

private:
    friend class stream;
    explicit client_context(ssl_ctx_st* ctx) : ctx_(ctx) {}
    ssl_ctx_st* native() const { return ctx_; }
    ssl_ctx_st* ctx_;
};

// The resumable sessions of one control connection, for its data connections. TLS 1.2 gives one
// with the handshake, reusable any number of times. With TLS 1.3 the server sends tickets after
// the handshake (and some servers, after each transfer), which OpenSSL only processes while
// reading the control connection; attach() installs a callback that collects them. Servers may
// accept each TLS 1.3 ticket once only, so every data connection gets an unused ticket while
// there is one, and reuses the last one otherwise (after CCC no new tickets can arrive).
class session_slot {
public:
    session_slot() = default;
    ~session_slot();
    session_slot(const session_slot&) = delete;
    session_slot& operator=(const session_slot&) = delete;

    // After the control connection's handshake: keep its session and listen for new tickets.
    void attach(const stream& control);
    // The control connection's TLS ended (CCC, close); the sessions stay usable. The slot must
    // outlive every SSL given to attach() or listen().
    void detach();
    // Also collect the tickets a server sends on a data connection (after its handshake):
    // servers with single-use TLS 1.3 tickets (ProFTPD, vsftpd) give one per data connection.
    // The slot must outlive data's use of the SSL.
    void listen(const stream& data);
    void clear();
    // Before another control connection to the same server (ferry mirror -P, get --segments):
    // an unused ticket of `first` for it to offer, so it resumes instead of a full handshake.
    // Only from a server seen sending tickets with its replies after data connections (ferryd,
    // with every PASV/EPSV reply), so that both sessions get more; moved, never shared (a server
    // may accept a ticket once).
    void seed_from(session_slot& first);
    // Moves one unused ticket to other (a session to the same server) by the rule above; true if
    // it did. A second session gives one back to the first, so that the first can seed the next.
    bool give_spare_to(session_slot& other);

    // The session a new data connection should offer (owned by the slot; valid until the next
    // call of take() or clear()); null when there is none.
    ssl_session_st* take();
    // A data connection can offer a resumable session.
    bool resumable() const;
    int tickets() const { return tickets_; }
    std::size_t unused() const { return fresh_.size(); }

private:
    friend int on_new_session(ssl_st*, ssl_session_st*);
    void add(ssl_session_st* s);
    std::vector<ssl_session_st*> fresh_;  // not yet offered
    ssl_session_st* last_ = nullptr;      // offered last
    ssl_st* control_ = nullptr;
    int tickets_ = 0;
    bool renewing_ = false;  // tickets arrive on the control connection after data connections
};

}  // namespace ferry::tls
