#pragma once
// The server's TLS context from the statements (KEYRING, CIPHERSUITE, TLSMINVERSION, CAFILE,
// CRLFILE, TLSTIMEOUT, TLSSERVERNAME). OpenSSL itself stays behind tls/: names are judged
// there, and errors are reported here against the statement that named them.
#include <string>

#include "config/settings.hpp"
#include "server/server_context.hpp"
#include "tls/context.hpp"

namespace ferry::server {

// Fills o from s; a CIPHERSUITE that is unknown or weak is refused with its file:line.
bool tls_options_from(const config::server_settings& s, tls::server_options& o, std::string& error);

// With a KEYRING: sets ctx.make_tls (also used by SIGHUP) and the first context, or says why
// there is none. Without one there is nothing to do.
bool load_tls(server_context& ctx, std::string& error);

}  // namespace ferry::server
