#include "tls/client_context.hpp"

#include "tls/detail/openssl.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <dirent.h>

#include <cstdlib>
#include <cstring>

#include "tls/context.hpp"

namespace ferry::tls {

namespace {

int slot_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

std::string name_text(X509_NAME* name) {
    if (!name) return {};
    BIO* b = BIO_new(BIO_s_mem());
    X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    std::string out(p, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
}

std::string time_text(const ASN1_TIME* t) {
    if (!t) return {};
    BIO* b = BIO_new(BIO_s_mem());
    ASN1_TIME_print(b, t);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    std::string out(p, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A folder of CA certificates named by subject hash ("5ad8a5d6.0"), as c_rehash and
// update-ca-certificates make them.
bool has_hashed_certs(const char* dir) {
    DIR* d = ::opendir(dir);
    if (!d) return false;
    bool found = false;
    while (const dirent* e = ::readdir(d)) {
        const char* n = e->d_name;
        std::size_t hex = std::strspn(n, "0123456789abcdef");
        if (hex == 8 && n[8] == '.' && n[9] >= '0' && n[9] <= '9') {
            found = true;
            break;
        }
    }
    ::closedir(d);
    return found;
}

// The system CA store. Its hashed folder, where OpenSSL reads only the CA certificates a chain
// names, comes before the bundle file, which OpenSSL 3 parses whole when loaded: about 140
// certificates, 40 ms of CPU on every run (perf: its PEM decoders), three times what the rest of
// a small download costs. SSL_CERT_FILE and SSL_CERT_DIR still choose, as for OpenSSL's defaults.
bool load_system_store(SSL_CTX* ctx) {
    const char* file = std::getenv(X509_get_default_cert_file_env());
    const char* dir_env = std::getenv(X509_get_default_cert_dir_env());
    const char* dir = dir_env && *dir_env ? dir_env : X509_get_default_cert_dir();
    if ((!file || !*file) && has_hashed_certs(dir)) return SSL_CTX_load_verify_dir(ctx, dir) == 1;
    return SSL_CTX_set_default_verify_paths(ctx) == 1;
}

}  // namespace

// Called by OpenSSL when a session (TLS 1.2: at handshake end; TLS 1.3: per ticket) is ready.
int on_new_session(SSL* ssl, SSL_SESSION* sess) {
    auto* slot = static_cast<session_slot*>(SSL_get_ex_data(ssl, slot_index()));
    if (!slot) return 0;  // a data connection, or the control handshake before attach()
    slot->add(sess);
    ++slot->tickets_;
    // A ticket on the control connection after a data connection took one: this server sends
    // them with its replies (ferryd, with every PASV/EPSV reply), not only after the handshake.
    if (ssl == slot->control_ && slot->last_) slot->renewing_ = true;
    return 1;  // we keep the reference
}

client_context::~client_context() { SSL_CTX_free(ctx_); }

std::shared_ptr<client_context> client_context::make(const client_options& opts, std::string& error) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        error = "cannot create a TLS context: " + openssl_error_text();
        return nullptr;
    }
    std::shared_ptr<client_context> c(new client_context(ctx));
    SSL_CTX_set_min_proto_version(ctx, opts.min_version ? detail::openssl_version(*opts.min_version) : 0);
    if (opts.max_version) SSL_CTX_set_max_proto_version(ctx, detail::openssl_version(*opts.max_version));
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (!opts.cipher_list.empty() && SSL_CTX_set_cipher_list(ctx, opts.cipher_list.c_str()) != 1) {
        error = "CIPHERSUITE: none of '" + opts.cipher_list + "' is a TLS 1.2 cipher OpenSSL knows";
        return nullptr;
    }
    if (!opts.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, opts.ciphersuites.c_str()) != 1) {
        error = "CIPHERSUITE: '" + opts.ciphersuites + "' holds a TLS 1.3 suite OpenSSL does not know";
        return nullptr;
    }
    ERR_clear_error();
    if (opts.no_ca_store) {
        // Nothing to load: every chain fails verification, and the pin decides.
    } else if (!opts.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(ctx, opts.ca_file.c_str(), nullptr) != 1) {
            error = opts.ca_file + ": cannot read CA certificates: " + openssl_error_text();
            return nullptr;
        }
    } else if (!load_system_store(ctx)) {
        error = "cannot load the system CA store: " + openssl_error_text();
        return nullptr;
    }
    // The chain is verified during the handshake but a failure does not abort it: the session
    // layer checks peer_check before sending anything, so it can give a helpful message or apply
    // a pinned fingerprint / known_servers entry. (SSL_get_verify_result keeps the outcome.)
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    if (!opts.cert_file.empty()) {
        const std::string& key = opts.key_file.empty() ? opts.cert_file : opts.key_file;
        if (SSL_CTX_use_certificate_chain_file(ctx, opts.cert_file.c_str()) != 1) {
            error = opts.cert_file + ": cannot read the client certificate: " + openssl_error_text();
            return nullptr;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
            error = key + ": cannot read the client certificate's private key: " + openssl_error_text();
            return nullptr;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            error = key + ": the private key does not match the client certificate " + opts.cert_file;
            return nullptr;
        }
    }
    // ALPACA: tell the server which protocol we speak, so that a TLS endpoint of another service
    // that checks ALPN refuses us instead of interpreting FTP commands.
    static const unsigned char alpn[] = {3, 'f', 't', 'p'};
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    return c;
}

peer_check client_context::check_peer(const stream& s, const std::string& host) {
    SSL* ssl = s.native();
    peer_check r;
    X509* cert = ssl ? SSL_get0_peer_certificate(ssl) : nullptr;
    if (!cert) {
        r.chain_error = "the server sent no certificate";
        return r;
    }
    r.has_cert = true;
    r.fingerprint = detail::sha256_fingerprint(cert);
    r.subject = name_text(X509_get_subject_name(cert));
    r.issuer = name_text(X509_get_issuer_name(cert));
    r.not_after = time_text(X509_get0_notAfter(cert));
    long vr = SSL_get_verify_result(ssl);
    r.chain_ok = vr == X509_V_OK;
    if (!r.chain_ok) r.chain_error = X509_verify_cert_error_string(vr);
    std::string h = host;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (is_ip_literal(h))
        r.name_ok = X509_check_ip_asc(cert, h.c_str(), 0) == 1;
    else
        r.name_ok = X509_check_host(cert, h.data(), h.size(), 0, nullptr) == 1;
    ERR_clear_error();
    return r;
}

std::string client_context::describe(const stream& s) {
    SSL* ssl = s.native();
    if (!ssl) return "no TLS";
    std::string out = SSL_get_version(ssl);
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) out += std::string(", ") + SSL_CIPHER_get_name(c);
    return out;
}

session_slot::~session_slot() { clear(); }

void session_slot::attach(const stream& control_stream) {
    SSL* control = control_stream.native();
    detach();
    control_ = control;
    SSL_SESSION* s = SSL_get1_session(control);
    if (s && SSL_SESSION_is_resumable(s) == 1)
        add(s);  // TLS 1.2; with TLS 1.3 the tickets come later
    else if (s)
        SSL_SESSION_free(s);
    SSL_set_ex_data(control, slot_index(), this);
}

void session_slot::listen(const stream& data) { SSL_set_ex_data(data.native(), slot_index(), this); }

// Does not touch the SSL: it may already be freed (CCC, a closed connection). Its ex_data may
// keep pointing here, which is safe because the slot outlives every SSL that points to it.
void session_slot::detach() { control_ = nullptr; }

void session_slot::clear() {
    detach();
    for (auto* s : fresh_) SSL_SESSION_free(s);
    fresh_.clear();
    if (last_) SSL_SESSION_free(last_);
    last_ = nullptr;
    tickets_ = 0;
    renewing_ = false;
}

void session_slot::add(SSL_SESSION* s) {
    // A server that keeps sending tickets must not make us keep them all.
    if (fresh_.size() >= 16) {
        SSL_SESSION_free(fresh_.front());
        fresh_.erase(fresh_.begin());
    }
    fresh_.push_back(s);
}

bool session_slot::give_spare_to(session_slot& other) {
    // Only for a server that sends tickets with its replies: ProFTPD and vsftpd send none after
    // the handshake, so a control connection that resumed one would leave its data connections
    // nothing to resume, and they require it. OpenSSL offers a TLS 1.3 session once (it is not
    // resumable after): the ticket is moved, the oldest (the newest lives longest).
    if (!fresh_.empty() && (renewing_ || other.renewing_)) {
        other.fresh_.insert(other.fresh_.begin(), fresh_.front());
        fresh_.erase(fresh_.begin());
        return true;
    }
    return false;
}

void session_slot::seed_from(session_slot& first) {
    clear();
    first.give_spare_to(*this);
}

SSL_SESSION* session_slot::take() {
    if (!fresh_.empty()) {
        if (last_) SSL_SESSION_free(last_);
        last_ = fresh_.back();  // the newest ticket lives longest
        fresh_.pop_back();
    }
    return last_;
}

bool session_slot::resumable() const {
    for (auto* s : fresh_)
        if (SSL_SESSION_is_resumable(s) == 1) return true;
    return last_ && SSL_SESSION_is_resumable(last_) == 1;
}

}  // namespace ferry::tls
