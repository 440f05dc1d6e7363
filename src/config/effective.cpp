// The effective value of every server statement, written as the statement would be
// (ferryd check-config prints them).
#include <map>
#include <string>

#include "config/schema.hpp"
#include "config/settings.hpp"

namespace ferry::config {

namespace {

std::string or_none(const std::string& v) { return v.empty() ? "(none)" : v; }

std::string octal(unsigned v) {
    std::string out;
    for (int shift = 6; shift >= 0; shift -= 3) out += static_cast<char>('0' + ((v >> shift) & 7));
    return out;
}

std::string redirect(redirect_policy p, const char* other) {
    return p == redirect_policy::noredirect ? "NOREDIRECT" : other;
}

}  // namespace

std::vector<effective_value> effective_values(const server_settings& s) {
    // keyword -> its values (more than one for a repeatable statement given more than once)
    std::map<std::string, std::vector<std::string>, std::less<>> v;
    auto u = [](unsigned n) { return std::to_string(n); };
    if (s.listen.empty())
        v["LISTEN"] = {"0.0.0.0 21"};
    else
        for (const auto& l : s.listen) v["LISTEN"].push_back(l.host + " " + std::to_string(l.port));
    v["TLSPORT"] = {u(s.tls_port)};
    v["KEYRING"] = {or_none(s.keyring)};
    v["USERS"] = {or_none(s.users)};
    v["PASSIVEDATAPORTS"] = {s.passive_low == 0 && s.passive_high == 0
                                 ? "(any ephemeral port)"
                                 : u(s.passive_low) + " " + u(s.passive_high)};
    v["EXTENSIONS"] = {s.auth_tls ? "AUTH_TLS" : "(none)"};
    v["SECURE_FTP"] = {s.secure == secure_ftp::allowed ? "ALLOWED" : "REQUIRED"};
    v["SECURE_DATACONN"] = {s.dataconn == secure_dataconn::never   ? "NEVER"
                            : s.dataconn == secure_dataconn::clear ? "CLEAR"
                                                                   : "PRIVATE"};
    v["INACTIVE"] = {u(s.inactive_seconds)};
    v["DATACTTIME"] = {u(s.data_timeout_seconds)};
    v["SHUTDOWNGRACE"] = {u(s.shutdown_grace_seconds)};
    v["DOWNLOADRATE"] = {s.download_rate ? std::to_string(s.download_rate) : "0"};
    v["UPLOADRATE"] = {s.upload_rate ? std::to_string(s.upload_rate) : "0"};
    v["UPLOADCLOSENOTIFY"] = {s.upload_close_notify_required ? "REQUIRED" : "OPTIONAL"};
    v["UMASK"] = {octal(s.umask)};
    v["RUNAS"] = {s.run_as.value.empty() ? "(ferry if it exists)" : s.run_as.value};
    v["SYSTEMUSERS"] = {s.system_users.value.empty() ? "OFF" : "ON"};
    v["PAMSERVICE"] = {s.pam_service};
    v["SYSTEMHOMES"] = {s.system_homes};
    v["SYSTEMMINUID"] = {u(s.system_min_uid)};
    v["HASHCOMMANDS"] = {s.hash_commands ? "TRUE" : "FALSE"};
    v["SANDBOX"] = {s.sandbox ? "ON" : "OFF"};
    v["MAXSESSIONS"] = {u(s.max_sessions)};
    v["MAXSESSIONSPERHOST"] = {u(s.max_sessions_per_host)};
    v["MAXSESSIONSPERUSER"] = {u(s.max_sessions_per_user)};
    v["LOGINTIMEOUT"] = {u(s.login_timeout_seconds)};
    v["LOGINATTEMPTS"] = {u(s.login_attempts) + " " + u(s.login_attempts_seconds)};
    v["PASSIVEDATACONN"] = {redirect(s.passive_dataconn, "REDIRECT")};
    v["PORTCOMMANDIPADDR"] = {redirect(s.port_ipaddr, "UNRESTRICTED")};
    v["PORTCOMMANDPORT"] = {s.port_low_ports ? "UNRESTRICTED" : "NOLOWPORTS"};
    v["ACTIVEDATAPORT"] = {s.active_from_port_20 ? "20" : "EPHEMERAL"};
    v["FTPKEEPALIVE"] = {u(s.keepalive_seconds)};
    if (s.passive_addresses.empty())
        v["PASSIVEADDRESS"] = {"(none)"};
    else
        for (const auto& p : s.passive_addresses)
            v["PASSIVEADDRESS"].push_back(p.cidr.empty() ? p.address : p.address + " FOR " + p.cidr);
    v["TLSRFCLEVEL"] = {s.rfc_level == tls_rfc_level::draft     ? "DRAFT"
                        : s.rfc_level == tls_rfc_level::rfc4217 ? "RFC4217"
                                                                : "CCCNONOTIFY"};
    v["SECURE_LOGIN"] = {s.login == secure_login::no_client_auth ? "NO_CLIENT_AUTH"
                         : s.login == secure_login::required     ? "REQUIRED"
                                                                 : "VERIFY_USER"};
    v["SECURE_PASSWORD"] = {s.password_optional ? "OPTIONAL" : "REQUIRED"};
    v["SECURE_SESSION_REUSE"] = {s.session_reuse_required ? "REQUIRED" : "ALLOWED"};
    v["TLSTIMEOUT"] = {u(s.tls_timeout_seconds)};
    v["TICKETKEYFILE"] = {s.ticket_key_file.empty() ? "(none: keys made at random by each process)" : s.ticket_key_file};
    if (s.proxy_from.empty())
        v["PROXYPROTOCOL"] = {"(off)"};
    else
        for (const auto& c : s.proxy_from) v["PROXYPROTOCOL"].push_back("FROM " + c);
    if (s.ciphersuites.empty())
        v["CIPHERSUITE"] = {"(none: the built-in list)"};
    else
        for (const auto& c : s.ciphersuites) v["CIPHERSUITE"].push_back(c.value);
    static const char* const versions[] = {"TLSV1.0", "TLSV1.1", "TLSV1.2", "TLSV1.3"};
    v["TLSMINVERSION"] = {versions[static_cast<int>(s.tls_min)]};
    v["CAFILE"] = {or_none(s.cafile)};
    v["CRLFILE"] = {or_none(s.crlfile)};
    v["CERTMAP"] = {or_none(s.certmap)};
    v["TLSSERVERNAME"] = {s.tls_server_name.empty() ? "(any)" : s.tls_server_name};
    v["XFERLOG"] = {or_none(s.xferlog)};
    v["JSONLOG"] = {or_none(s.jsonlog)};
    v["METRICS"] = {s.metrics ? s.metrics->host + " " + u(s.metrics->port) : "(off)"};

    std::vector<effective_value> out;
    for (const auto& e : schema()) {
        if (e.where != side::server) continue;
        auto it = v.find(e.keyword);
        // A statement added to the table but not here still shows, so that it is noticed (and
        // the unit test fails).
        if (it == v.end()) {
            out.push_back({std::string(e.keyword), "(unknown)"});
            continue;
        }
        for (const auto& value : it->second) out.push_back({std::string(e.keyword), value});
    }
    return out;
}

}  // namespace ferry::config
