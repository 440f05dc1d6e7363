#include "tls/context.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
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

std::string sha256_fingerprint(X509* cert) {
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

}  // namespace

std::shared_ptr<context> context::make_server(const server_options& opts, std::string& error) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        error = openssl_error_text();
        return nullptr;
    }
    std::shared_ptr<context> c(new context(ctx));
    SSL_CTX_set_min_proto_version(ctx, opts.min_version);
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
    c->fingerprint_ = sha256_fingerprint(SSL_CTX_get0_certificate(ctx));
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
