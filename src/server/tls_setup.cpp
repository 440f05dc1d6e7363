#include "server/tls_setup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "tls/digest.hpp"
#include "vfs/unique_fd.hpp"

namespace ferry::server {

namespace {
// TICKETKEYFILE's secret: 32 to 4,096 bytes, not readable by other users.
bool read_ticket_secret(const std::string& path, std::vector<unsigned char>& secret, std::string& error) {
    vfs::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
        error = "TICKETKEYFILE " + path + ": " + std::strerror(errno);
        return false;
    }
    // SECURITY: whoever reads the secret can decrypt every resumed session's ticket.
    if (st.st_mode & S_IRWXO) {
        error = "TICKETKEYFILE " + path + " may be read by other users: chmod o-rwx it";
        return false;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 32 || st.st_size > 4096) {
        error = "TICKETKEYFILE " + path + ": expected a file of 32 to 4096 random bytes (openssl rand 48 > FILE)";
        return false;
    }
    secret.resize(static_cast<std::size_t>(st.st_size));
    if (::read(fd.get(), secret.data(), secret.size()) != static_cast<ssize_t>(secret.size())) {
        error = "TICKETKEYFILE " + path + ": could not read it whole";
        return false;
    }
    return true;
}

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
    if (o.session_timeout != 0) {
        const std::chrono::seconds period(2 * std::uint64_t{o.session_timeout});
        if (s.ticket_key_file.empty()) {
            o.tickets = std::make_shared<tls::ticket_keys>(period);
        } else {
            std::vector<unsigned char> secret;
            if (!read_ticket_secret(s.ticket_key_file, secret, error)) return false;
            o.tickets = std::make_shared<tls::ticket_keys>(period, secret);
            tls::digest d(tls::digest_algorithm::sha256);
            d.update(secret.data(), secret.size());
            o.tickets_origin = d.hex_final();
            std::fill(secret.begin(), secret.end(), 0);
        }
    }
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
        if (sh.ticket_keys && sh.ticket_keys_timeout == o.session_timeout && sh.ticket_keys_origin == o.tickets_origin)
            o.tickets = sh.ticket_keys;
        sh.ticket_keys = o.tickets;
        sh.ticket_keys_timeout = o.session_timeout;
        sh.ticket_keys_origin = o.tickets_origin;
    }
    ctx.make_tls = [o](std::string& err) { return tls::context::make_server(o, err); };
    auto t = ctx.make_tls(error);
    ctx.set_tls(t);
    return t != nullptr;
}

}  // namespace ferry::server
