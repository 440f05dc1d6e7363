#pragma once
// What the tls module shares inside itself about OpenSSL. Only src/tls includes this: the public
// headers name OpenSSL's structures only as incomplete types in private members, so that
// nothing outside tls can call OpenSSL (tests/layering holds it to that).
#include <openssl/ssl.h>

#include <string>

#include "tls/context.hpp"

namespace ferry::tls::detail {

// OpenSSL's number for a protocol version (SSL_CTX_set_min/max_proto_version).
int openssl_version(protocol_version v);
// The per-connection tag that session tickets carry (stream::set_session_tag).
int session_tag_index();
const std::string* session_tag_of(SSL* ssl);
// "SHA256:xx:xx:..." of a certificate.
std::string sha256_fingerprint(X509* cert);

}  // namespace ferry::tls::detail
