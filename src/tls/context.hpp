#pragma once
// OpenSSL 3 contexts for both sides. No FTP knowledge here.
#include <memory>
#include <string>

#include "tls/ticket_keys.hpp"

// OpenSSL's SSL_CTX, SSL and SSL_SESSION, only ever used inside src/tls (tls/detail/openssl.hpp).
struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;

namespace ferry::tls {

// Text of OpenSSL's error queue (and clears it), for logs and replies.
std::string openssl_error_text();

// The TLS 1.2 suites offered when CIPHERSUITE names none: forward-secret AEAD only.
inline constexpr const char* default_tls12_ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";

// The oldest protocol a server accepts (TLSMINVERSION); OpenSSL's constants stay in context.cpp.
enum class protocol_version { tls1_0, tls1_1, tls1_2, tls1_3 };

struct server_options {
    std::string keyring;  // PEM: certificate chain followed or preceded by the private key
    protocol_version min_version = protocol_version::tls1_2;
    std::string cipher_list;   // TLS 1.2 and older, OpenSSL syntax; empty: default_tls12_ciphers
    std::string ciphersuites;  // TLS 1.3; empty: OpenSSL's defaults
    std::string cafile;        // CAs for client certificates
    std::string crlfile;       // PEM CRLs of those CAs: client certificates are checked against them
    bool require_client_cert = false;
    unsigned session_timeout = 100;  // seconds a session can be resumed; 0: no resumption
    // Session-ticket keys; shared by the contexts a SIGHUP makes, so tickets survive a reload.
    // Null: OpenSSL's own key (lives as long as the context).
    std::shared_ptr<ticket_keys> tickets;
    std::string tickets_origin;      // keys from a shared secret: its SHA-256 (a reload keeps equal keys)
    std::string server_name;         // if set, a different SNI is refused
};

// How OpenSSL sees a configured cipher suite name (OpenSSL or IANA spelling, also z/OS "SSL_..." names).
enum class cipher_kind { tls12, tls13, unknown, weak };
// openssl_name receives the OpenSSL spelling for tls12/tls13.
cipher_kind classify_cipher(const std::string& name, std::string& openssl_name);

class context {
public:
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    static std::shared_ptr<context> make_server(const server_options& opts, std::string& error);
    // "SHA256:AB:CD:..." of the own certificate (server) for display.
    const std::string& fingerprint() const { return fingerprint_; }

private:
    friend class stream;
    explicit context(ssl_ctx_st* ctx) : ctx_(ctx) {}
    ssl_ctx_st* native() const { return ctx_; }
    ssl_ctx_st* ctx_;
    std::string fingerprint_;
    std::string server_name_;
    std::string legacy_ciphers_;  // for TLS 1.0/1.1 clients only (see lower_level_for_legacy_clients)
    std::shared_ptr<ticket_keys> tickets_;
};


// Writes a new self-signed certificate (EC P-256, SHA-256, valid `days`) and its key to one
// PEM file with mode 0600, for `ferryd serve`. subject_alt_names like "DNS:localhost,IP:127.0.0.1".
bool generate_self_signed(const std::string& pem_path, const std::string& common_name,
                          const std::string& subject_alt_names, int days, std::string& error);

}  // namespace ferry::tls
