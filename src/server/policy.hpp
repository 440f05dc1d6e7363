#pragma once
// The one place where the SECURE_* statements are enforced. Pure functions of the session's
// security state and the settings; each returns the refusal (code + reason) or nothing.
#include <optional>
#include <string>

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

}  // namespace ferry::server
