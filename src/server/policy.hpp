#pragma once
// The one place where the SECURE_* statements (and TLSRFCLEVEL's limits, PASSIVEDATACONN) are
// decided. Pure functions of the session's security state and the settings; each returns the
// refusal (code + reason) or nothing. The handlers only carry the decisions out.
#include <cstdint>
#include <optional>
#include <string>

#include "auth/cert_map.hpp"
#include "config/settings.hpp"

namespace ferry::server {

struct refusal {
    int code;
    std::string text;
};

struct security_state {
    bool control_secure = false;  // TLS on the control connection (AUTH or implicit port)
    bool control_cleared = false; // TLS was on and CCC ended it: it counts as secured for policy
    bool pbsz_done = false;
    bool prot_private = false;
};

// SECURITY: SECURE_FTP REQUIRED: nothing but the commands RFC 4217 allows before AUTH
// may run on a clear control connection (no password in clear, no file access).
std::optional<refusal> check_command_security(const config::server_settings& s, const security_state& st,
                                              bool allowed_before_auth);
// SECURITY: SECURE_LOGIN REQUIRED / VERIFY_USER: a login is checked against the client
// certificate, so it needs TLS on the control connection whatever SECURE_FTP says (a clear login
// would have no certificate to check).
std::optional<refusal> check_login(const config::server_settings& s, const security_state& st);
// PROT argument against SECURE_DATACONN.
std::optional<refusal> check_prot(const config::server_settings& s, const security_state& st, char level);
// Before opening a data connection: SECURE_DATACONN PRIVATE needs PROT P.
std::optional<refusal> check_data_protection(const config::server_settings& s, const security_state& st);

// AUTH (its mechanism already known to be a TLS one): offered at all (EXTENSIONS AUTH_TLS and a
// KEYRING), not twice, and at TLSRFCLEVEL DRAFT not after login.
std::optional<refusal> check_auth(const config::server_settings& s, const security_state& st, bool tls_configured,
                                  bool logged_in);
// PBSZ needs TLS on the control connection (or TLS that CCC ended).
std::optional<refusal> check_pbsz(const security_state& st);
// CCC: only on a protected control connection, and not at TLSRFCLEVEL DRAFT.
std::optional<refusal> check_ccc(const config::server_settings& s, const security_state& st);
// REIN: at RFC4217 and CCCNONOTIFY it also ends TLS on the control connection (DRAFT keeps it).
bool rein_ends_tls(const config::server_settings& s, const security_state& st);

// SECURITY: SECURE_LOGIN VERIFY_USER (levels 2 and 3), right after a control connection's
// handshake: the client certificate must be registered to a user (cert: its CERTMAP entry, null
// if none), who may use this server port. The refusal ends the session (421).
std::optional<refusal> check_certificate_at_handshake(const config::server_settings& s, const auth::cert_mapping* cert,
                                                      std::uint16_t local_port);
// SECURITY: VERIFY_USER: a certificate registered to one user cannot log in another.
std::optional<refusal> check_user_for_certificate(const config::server_settings& s, const security_state& st,
                                                  const auth::cert_mapping* cert, const std::string& user);
// SECURE_PASSWORD OPTIONAL: USER alone logs in the user the verified certificate is registered to.
bool certificate_replaces_password(const config::server_settings& s, const security_state& st,
                                   const auth::cert_mapping* cert, const std::string& user);

// SECURITY: data connection stealing (SECURE_SESSION_REUSE REQUIRED): a protected data
// connection must have resumed this session's TLS session. control_tag: this session's tag
// (empty: none could be made); resumed_tag: the tag of the session the data connection resumed
// (empty: a full handshake). Returns why it is refused.
std::optional<std::string> check_data_session_reuse(const config::server_settings& s, const std::string& control_tag,
                                                    const std::string& resumed_tag);
// SECURITY: PASSIVEDATACONN NOREDIRECT: a passive data connection must come from the client's
// own address.
bool passive_peer_must_match(const config::server_settings& s);

}  // namespace ferry::server
