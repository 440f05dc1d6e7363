#include "tls/context.hpp"

#include "tls/detail/openssl.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <strings.h>

#include <cstring>

namespace ferry::tls {

std::string openssl_error_text() {
    std::string out;
    unsigned long e;
    char buf[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? "unknown TLS error" : out;
}

context::~context() { SSL_CTX_free(ctx_); }

std::string detail::sha256_fingerprint(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!cert || !X509_digest(cert, EVP_sha256(), md, &len)) return {};
    std::string out = "SHA256:";
    char hex[4];
    for (unsigned i = 0; i < len; ++i) {
        std::snprintf(hex, sizeof hex, i ? ":%02X" : "%02X", md[i]);
        out += hex;
    }
    return out;
}

namespace {

// SECURITY: ALPACA (cross-protocol attack): a client that offers ALPN but not "ftp" is talking
// to us by mistake or by an attacker's redirection; refuse the handshake.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    static const unsigned char ftp[] = {'f', 't', 'p'};
    for (unsigned i = 0; i < inlen;) {
        unsigned len = in[i];
        if (i + 1 + len > inlen) break;
        if (len == 3 && std::memcmp(in + i + 1, ftp, 3) == 0) {
            *out = in + i + 1;
            *outlen = 3;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// SECURITY: SNI mismatch: with TLSSERVERNAME set, a client that asked for another host is
// refused rather than served under the wrong name.
int check_server_name(SSL* ssl, int* alert, void* arg) {
    const auto* wanted = static_cast<const std::string*>(arg);
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!sni || wanted->empty() || ::strcasecmp(sni, wanted->c_str()) == 0) return SSL_TLSEXT_ERR_OK;
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// Tickets carry the session tag (see stream::set_session_tag), so a data connection can be
// checked to resume this control connection's session and not any session of the server.
int ticket_generated(SSL* ssl, void*) {
    const std::string* tag = detail::session_tag_of(ssl);
    if (!tag) return 1;
    // A resumed session keeps its tag: the connection proved it holds the secret of a session of
    // that client, and continues it (stream::adopt_resumed_session_tag). TLS 1.3 sends a ticket
    // of the resumed connection (a copy of the resumed session) inside the handshake, before the
    // connection can adopt the tag: overwriting it here would split one client in two.
    void* kept = nullptr;
    std::size_t kept_len = 0;
    if (SSL_session_reused(ssl) == 1 &&
        SSL_SESSION_get0_ticket_appdata(SSL_get0_session(ssl), &kept, &kept_len) == 1 && kept_len > 0)
        return 1;
    SSL_SESSION_set1_ticket_appdata(SSL_get0_session(ssl), tag->data(), tag->size());
    return 1;
}

SSL_TICKET_RETURN ticket_decrypted(SSL* ssl, SSL_SESSION*, const unsigned char*, size_t, SSL_TICKET_STATUS status,
                                   void*) {
    switch (status) {
        // TLS 1.3 sends tickets after a resumption only when asked to renew: without a fresh one
        // per data connection a client that spends its tickets (one per connection, RFC 8446
        // section C.4) runs out, and the next data connection cannot resume (a 522 under
        // SECURE_SESSION_REUSE REQUIRED once CCC has closed the control connection's TLS).
        case SSL_TICKET_SUCCESS:
            return SSL_version(ssl) == TLS1_3_VERSION ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
        case SSL_TICKET_SUCCESS_RENEW: return SSL_TICKET_RETURN_USE_RENEW;
        case SSL_TICKET_EMPTY:
        case SSL_TICKET_NO_DECRYPT: return SSL_TICKET_RETURN_IGNORE_RENEW;
        default: return SSL_TICKET_RETURN_ABORT;
    }
}

// SECURITY: TLS 1.0 and 1.1 sign their handshake with SHA-1 (and MD5), which OpenSSL 3 accepts
// only at security level 0. That level is set on the connection of a client that can speak
// nothing newer, and only there (capped at TLS 1.1): a client that offers TLS 1.2 or 1.3 keeps the
// context's level, so a SHA-1 signature or a weak group cannot be forced on it.
int lower_level_for_legacy_clients(SSL* ssl, int* alert, void* arg) {
    int newest = static_cast<int>(SSL_client_hello_get0_legacy_version(ssl));
    const unsigned char* ext = nullptr;
    std::size_t len = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &ext, &len) == 1) {
        if (len < 1 || ext[0] != len - 1 || (len - 1) % 2 != 0) {
            *alert = SSL_AD_DECODE_ERROR;
            return SSL_CLIENT_HELLO_ERROR;
        }
        newest = 0;
        for (std::size_t i = 1; i + 1 < len; i += 2) {
            int v = (ext[i] << 8) | ext[i + 1];
            if (v <= TLS1_3_VERSION && v > newest) newest = v;  // GREASE and unknown versions are above
        }
    }
    if (newest >= TLS1_2_VERSION) return SSL_CLIENT_HELLO_SUCCESS;
    const auto* legacy_ciphers = static_cast<const std::string*>(arg);
    if (SSL_set_max_proto_version(ssl, TLS1_1_VERSION) != 1 || SSL_set_cipher_list(ssl, legacy_ciphers->c_str()) != 1) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    SSL_set_security_level(ssl, 0);
    return SSL_CLIENT_HELLO_SUCCESS;
}

// A CRL counts only if a CA in the store (CAFILE) signed it.
bool signed_by_trusted_ca(X509_STORE* store, X509_CRL* crl) {
    STACK_OF(X509_OBJECT)* objs = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); ++i) {
        X509* ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (ca && X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0 &&
            X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
            return true;
    }
    ERR_clear_error();
    return false;
}

// SECURITY: revoked client certificates. Fails closed: an unreadable file, a damaged CRL, a file
// without CRLs or a CRL no CA in CAFILE signed refuse the context (the start, or the SIGHUP
// reload). With the CRL check on, a client certificate whose CA has no CRL here fails too.
bool load_crls(SSL_CTX* ctx, const std::string& path, std::string& error) {
    ERR_clear_error();
    BIO* in = BIO_new_file(path.c_str(), "r");
    if (!in) {
        error = path + ": cannot read the CRL file: " + openssl_error_text();
        return false;
    }
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    int count = 0;
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(in, nullptr, nullptr, nullptr)) {
        bool ok = signed_by_trusted_ca(store, crl);
        if (!ok) {
            char issuer[256];
            X509_NAME_oneline(X509_CRL_get_issuer(crl), issuer, sizeof issuer);
            error = path + ": the CRL of " + issuer + " is not signed by a CA in CAFILE";
        } else if (X509_STORE_add_crl(store, crl) != 1) {
            error = path + ": " + openssl_error_text();
            ok = false;
        }
        X509_CRL_free(crl);
        if (!ok) {
            BIO_free(in);
            return false;
        }
        ++count;
    }
    BIO_free(in);
    unsigned long e = ERR_peek_last_error();
    // The end of the file reads as "no start line"; anything else is a damaged CRL.
    if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
        error = path + ": a CRL cannot be read: " + openssl_error_text();
        return false;
    }
    ERR_clear_error();
    if (count == 0) {
        error = path + ": no CRL in the file (PEM '-----BEGIN X509 CRL-----' blocks expected)";
        return false;
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    return true;
}

}  // namespace

int detail::session_tag_index() {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

const std::string* detail::session_tag_of(SSL* ssl) {
    return static_cast<const std::string*>(SSL_get_ex_data(ssl, detail::session_tag_index()));
}

cipher_kind classify_cipher(const std::string& name, std::string& openssl_name) {
    std::string n = name;
    // z/OS spells IANA names with an SSL_ prefix (SSL_RSA_WITH_AES_256_CBC_SHA).
    if (n.rfind("SSL_", 0) == 0) n = "TLS_" + n.substr(4);
    if (n.rfind("TLS_", 0) == 0) {
        static const char* tls13[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                                      "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"};
        for (const char* t : tls13)
            if (n == t) {
                openssl_name = n;
                return cipher_kind::tls13;
            }
        const char* o = OPENSSL_cipher_name(n.c_str());
        if (!o || std::strcmp(o, "(NONE)") == 0) return cipher_kind::unknown;
        n = o;
    }
    SSL_CTX* probe = SSL_CTX_new(TLS_server_method());
    if (!probe) return cipher_kind::unknown;
    // Security level 0 so that weak suites are recognised (and then refused by us, by name).
    std::string list = n + ":@SECLEVEL=0";
    cipher_kind kind = cipher_kind::unknown;
    if (n.find_first_of(":,! +") == std::string::npos && SSL_CTX_set_cipher_list(probe, list.c_str()) == 1) {
        STACK_OF(SSL_CIPHER)* sk = SSL_CTX_get_ciphers(probe);
        for (int i = 0; i < sk_SSL_CIPHER_num(sk); ++i) {
            const SSL_CIPHER* c = sk_SSL_CIPHER_value(sk, i);
            if (SSL_CIPHER_get_version(c) && std::strcmp(SSL_CIPHER_get_name(c), n.c_str()) == 0) {
                int alg_bits = 0;
                SSL_CIPHER_get_bits(c, &alg_bits);
                // SECURITY: no NULL, export or sub-128-bit ciphers, whatever the configuration says.
                // SECURITY: anonymous suites (no authentication) invite a man in the middle.
                kind = (SSL_CIPHER_get_cipher_nid(c) == NID_undef || alg_bits < 128 ||
                        SSL_CIPHER_get_auth_nid(c) == NID_auth_null)
                           ? cipher_kind::weak
                           : cipher_kind::tls12;
                openssl_name = n;
            }
        }
    }
    ERR_clear_error();
    SSL_CTX_free(probe);
    return kind;
}

int detail::openssl_version(protocol_version v) {
    switch (v) {
        case protocol_version::tls1_0: return TLS1_VERSION;
        case protocol_version::tls1_1: return TLS1_1_VERSION;
        case protocol_version::tls1_2: return TLS1_2_VERSION;
        case protocol_version::tls1_3: return TLS1_3_VERSION;
    }
    return TLS1_2_VERSION;
}

std::shared_ptr<context> context::make_server(const server_options& opts, std::string& error) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        error = openssl_error_text();
        return nullptr;
    }
    std::shared_ptr<context> c(new context(ctx));
    SSL_CTX_set_min_proto_version(ctx, detail::openssl_version(opts.min_version));
    // SECURITY: weak crypto a scanner flags, and downgrades to it: by default TLS 1.2 offers only
    // forward-secret (ECDHE) AEAD suites (AES-GCM, ChaCha20-Poly1305). No CBC (LUCKY13 and other
    // padding oracles), no RSA key exchange (a stolen key decrypts every recorded session), no
    // CCM8 (8-byte tags). TLS 1.3 suites are all forward secret and AEAD. CIPHERSUITE overrides.
    std::string list = opts.cipher_list.empty() ? std::string(default_tls12_ciphers) : opts.cipher_list;
    list += ":!aNULL:!eNULL";
    if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
        error = "no usable TLS 1.2 cipher suite in '" + opts.cipher_list + "'";
        return nullptr;
    }
    if (opts.min_version < protocol_version::tls1_2) {
        // TLS 1.0 and 1.1 have no AEAD suites: when TLSMINVERSION lets them in, their clients (and
        // only theirs) get the ECDHE CBC suites, at security level 0 (lower_level_for_legacy_clients).
        c->legacy_ciphers_ = (opts.cipher_list.empty() ? std::string("ECDHE+AES+SHA1") : opts.cipher_list) +
                             ":!aNULL:!eNULL:@SECLEVEL=0";
        SSL_CTX_set_client_hello_cb(ctx, lower_level_for_legacy_clients, &c->legacy_ciphers_);
    }
    if (!opts.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, opts.ciphersuites.c_str()) != 1) {
        error = "no usable TLS 1.3 cipher suite in '" + opts.ciphersuites + "'";
        return nullptr;
    }
    // Idle sessions keep no 34 KiB read/write buffers; matters with thousands of logged-in users.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, opts.keyring.c_str()) != 1) {
        error = opts.keyring + ": cannot read the certificate chain: " + openssl_error_text();
        return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, opts.keyring.c_str(), SSL_FILETYPE_PEM) != 1) {
        error = opts.keyring + ": cannot read the private key: " + openssl_error_text();
        return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        error = opts.keyring + ": the private key does not match the certificate";
        return nullptr;
    }
    // Data connections resume the control connection's session: one id context for the server.
    static const unsigned char sid_ctx[] = "ferryd";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
    if (opts.session_timeout == 0) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
    } else {
        SSL_CTX_set_timeout(ctx, static_cast<long>(opts.session_timeout));
        SSL_CTX_set_session_ticket_cb(ctx, ticket_generated, ticket_decrypted, nullptr);
        if (opts.tickets) {
            c->tickets_ = opts.tickets;
            c->tickets_->install(ctx);
        }
    }
    if (!opts.cafile.empty()) {
        if (SSL_CTX_load_verify_locations(ctx, opts.cafile.c_str(), nullptr) != 1) {
            error = opts.cafile + ": cannot read the CA certificates: " + openssl_error_text();
            return nullptr;
        }
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(opts.cafile.c_str()))
            SSL_CTX_set_client_CA_list(ctx, names);
    }
    if (!opts.crlfile.empty() && !load_crls(ctx, opts.crlfile, error)) return nullptr;
    if (opts.require_client_cert) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    if (!opts.server_name.empty()) {
        c->server_name_ = opts.server_name;
        SSL_CTX_set_tlsext_servername_callback(ctx, check_server_name);
        SSL_CTX_set_tlsext_servername_arg(ctx, &c->server_name_);
    }
    c->fingerprint_ = detail::sha256_fingerprint(SSL_CTX_get0_certificate(ctx));
    return c;
}

bool generate_self_signed(const std::string& pem_path, const std::string& common_name,
                          const std::string& subject_alt_names, int days, std::string& error) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    bool ok = false;
    do {
        if (!key || !x) break;
        X509_set_version(x, 2);
        unsigned char serial[16];
        FILE* ur = std::fopen("/dev/urandom", "rb");
        if (!ur || std::fread(serial, 1, sizeof serial, ur) != sizeof serial) {
            if (ur) std::fclose(ur);
            break;
        }
        std::fclose(ur);
        serial[0] &= 0x7f;
        BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
        BN_free(bn);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(days) * 86400);
        X509_set_pubkey(x, key);
        X509_NAME* name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
        X509_set_issuer_name(x, name);
        X509V3_CTX v3;
        X509V3_set_ctx_nodb(&v3);
        X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
        bool ext_ok = true;
        for (auto [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, subject_alt_names},
                                  {NID_basic_constraints, "critical,CA:FALSE"},
                                  {NID_ext_key_usage, "serverAuth"}}) {
            if (value.empty()) continue;
            X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
            if (!ext) {
                ext_ok = false;
                break;
            }
            X509_add_ext(x, ext, -1);
            X509_EXTENSION_free(ext);
        }
        if (!ext_ok || !X509_sign(x, key, EVP_sha256())) break;
        int fd = ::open(pem_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            error = pem_path + ": " + std::strerror(errno);
            break;
        }
        FILE* f = fdopen(fd, "wb");
        ok = PEM_write_X509(f, x) && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
        ok = (std::fclose(f) == 0) && ok;
    } while (false);
    if (!ok && error.empty()) error = "cannot create a certificate: " + openssl_error_text();
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

}  // namespace ferry::tls
