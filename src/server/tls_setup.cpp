#include "server/tls_setup.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ferry::server {

namespace {
tls::protocol_version oldest(config::tls_protocol p) {
    switch (p) {
        case config::tls_protocol::v1_0: return tls::protocol_version::tls1_0;
        case config::tls_protocol::v1_1: return tls::protocol_version::tls1_1;
        case config::tls_protocol::v1_2: return tls::protocol_version::tls1_2;
        case config::tls_protocol::v1_3: return tls::protocol_version::tls1_3;
    }
    return tls::protocol_version::tls1_2;
}
}  // namespace

bool tls_options_from(const config::server_settings& s, tls::server_options& o, std::string& error) {
    o.keyring = s.keyring;
    o.min_version = oldest(s.tls_min);
    for (const auto& c : s.ciphersuites) {
        std::string name;
        switch (tls::classify_cipher(c.value, name)) {
            case tls::cipher_kind::tls12: o.cipher_list += (o.cipher_list.empty() ? "" : ":") + name; break;
            case tls::cipher_kind::tls13: o.ciphersuites += (o.ciphersuites.empty() ? "" : ":") + name; break;
            case tls::cipher_kind::weak:
                error = c.where + ": CIPHERSUITE " + c.value + " is a NULL, export or weak cipher and is never allowed";
                return false;
            case tls::cipher_kind::unknown:
                error = c.where + ": CIPHERSUITE " + c.value +
                        " is not a cipher suite OpenSSL knows (use names such as ECDHE-RSA-AES256-GCM-SHA384, "
                        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 or TLS_AES_256_GCM_SHA384)";
                return false;
        }
    }
    if (!s.ciphersuites.empty() && o.cipher_list.empty() && s.tls_min != config::tls_protocol::v1_3) {
        // Only TLS 1.3 suites named: TLS 1.2 would have none, so it is off.
        o.min_version = tls::protocol_version::tls1_3;
    }
    if (!s.ciphersuites.empty() && o.ciphersuites.empty()) o.ciphersuites = "";  // defaults stay for TLS 1.3
    o.cafile = s.cafile;
    o.crlfile = s.crlfile;
    o.require_client_cert = s.login != config::secure_login::no_client_auth;
    o.session_timeout = s.tls_timeout_seconds;
    // A ticket key encrypts for two session lifetimes, so a ticket made just before a rotation
    // still resumes; made once here, it outlives the contexts SIGHUP replaces.
    if (o.session_timeout != 0)
        o.tickets = std::make_shared<tls::ticket_keys>(std::chrono::seconds(2 * std::uint64_t{o.session_timeout}));
    o.server_name = s.tls_server_name;
    return true;
}

bool load_tls(server_context& ctx, std::string& error) {
    if (!ctx.settings.tls_configured()) return true;
    tls::server_options o;
    if (!tls_options_from(ctx.settings, o, error)) return false;
    if (o.tickets) {
        // The ticket keys of an earlier generation (SIGHUP) stay while TLSTIMEOUT does.
        auto& sh = *ctx.shared;
        std::lock_guard lock(sh.tickets_mutex);
        if (sh.ticket_keys && sh.ticket_keys_timeout == o.session_timeout)
            o.tickets = sh.ticket_keys;
        sh.ticket_keys = o.tickets;
        sh.ticket_keys_timeout = o.session_timeout;
    }
    ctx.make_tls = [o](std::string& err) { return tls::context::make_server(o, err); };
    auto t = ctx.make_tls(error);
    ctx.set_tls(t);
    return t != nullptr;
}

}  // namespace ferry::server
