#include "server/policy.hpp"

#include "proto/reply_code.hpp"

namespace ferry::server {

namespace code = proto::code;
using config::secure_dataconn;

std::optional<refusal> check_command_security(const config::server_settings& s, const security_state& st,
                                              bool allowed_before_auth) {
    if (s.secure == config::secure_ftp::required && !st.control_secure && !st.control_cleared && !allowed_before_auth)
        return refusal{code::not_logged_in, "This server requires TLS: send AUTH TLS first (SECURE_FTP REQUIRED)."};
    return std::nullopt;
}

std::optional<refusal> check_login(const config::server_settings& s, const security_state& st) {
    if (s.login != config::secure_login::no_client_auth && !st.control_secure)
        return refusal{code::not_logged_in, "This server requires a client certificate: send AUTH TLS first (SECURE_LOGIN " +
                                                std::string(s.login == config::secure_login::required ? "REQUIRED" : "VERIFY_USER") +
                                                ")."};
    return std::nullopt;
}

std::optional<refusal> check_prot(const config::server_settings& s, const security_state& st, char level) {
    if (!st.control_secure && !st.control_cleared)
        return refusal{code::bad_sequence, "PROT needs a TLS-protected control connection: send AUTH TLS first."};
    if (!st.pbsz_done) return refusal{code::bad_sequence, "PROT must be preceded by PBSZ 0."};
    switch (level) {
        case 'C':
            if (s.dataconn == secure_dataconn::private_)
                return refusal{code::policy_requires_security,
                               "PROT C refused: this server requires protected data (SECURE_DATACONN PRIVATE)."};
            return std::nullopt;
        case 'P':
            if (s.dataconn == secure_dataconn::never)
                return refusal{code::policy_requires_security,
                               "PROT P refused: this server transfers data in clear only (SECURE_DATACONN NEVER)."};
            return std::nullopt;
        case 'S':
        case 'E':
            return refusal{code::prot_level_not_supported,
                           std::string("PROT ") + level + " not supported: TLS gives integrity only together with privacy; use PROT P."};
        default: return refusal{code::not_implemented_param, "PROT takes C or P."};
    }
}

std::optional<refusal> check_data_protection(const config::server_settings& s, const security_state& st) {
    if (s.dataconn == secure_dataconn::private_ && !st.prot_private)
        return refusal{code::data_prot_refused,
                       "Data connections must be protected: send PBSZ 0 and PROT P first (SECURE_DATACONN PRIVATE)."};
    return std::nullopt;
}

std::optional<refusal> check_auth(const config::server_settings& s, const security_state& st, bool tls_configured,
                                  bool logged_in) {
    if (!tls_configured || !s.auth_tls)
        return refusal{code::not_implemented, "AUTH is not offered by this server (no EXTENSIONS AUTH_TLS)."};
    if (st.control_secure) return refusal{code::bad_sequence, "The control connection is already protected by TLS."};
    if (logged_in && s.rfc_level == config::tls_rfc_level::draft)
        return refusal{code::bad_sequence, "AUTH must come before login (TLSRFCLEVEL DRAFT)."};
    return std::nullopt;
}

std::optional<refusal> check_pbsz(const security_state& st) {
    if (!st.control_secure && !st.control_cleared)
        return refusal{code::bad_sequence, "PBSZ needs a TLS-protected control connection: send AUTH TLS first."};
    return std::nullopt;
}

std::optional<refusal> check_ccc(const config::server_settings& s, const security_state& st) {
    if (!st.control_secure) return refusal{code::ccc_denied, "CCC needs a TLS-protected control connection."};
    if (s.rfc_level == config::tls_rfc_level::draft)
        return refusal{code::policy_requires_security, "CCC refused: this server runs at TLSRFCLEVEL DRAFT."};
    return std::nullopt;
}

bool rein_ends_tls(const config::server_settings& s, const security_state& st) {
    return st.control_secure && s.rfc_level != config::tls_rfc_level::draft;
}

std::optional<refusal> check_certificate_at_handshake(const config::server_settings& s, const auth::cert_mapping* cert,
                                                      std::uint16_t local_port) {
    if (s.login != config::secure_login::verify_user) return std::nullopt;
    if (!cert)
        return refusal{code::service_not_available,
                       "Client certificate is not registered to any user (SECURE_LOGIN VERIFY_USER)."};
    if (!cert->allows_port(local_port))
        return refusal{code::service_not_available,
                       "User " + cert->user + " may not use this server port (SECURE_LOGIN VERIFY_USER)."};
    return std::nullopt;
}

std::optional<refusal> check_user_for_certificate(const config::server_settings& s, const security_state& st,
                                                  const auth::cert_mapping* cert, const std::string& user) {
    if (st.control_secure && s.login == config::secure_login::verify_user && cert && cert->user != user)
        return refusal{code::not_logged_in, "Your client certificate belongs to user " + cert->user + ", not " + user +
                                                " (SECURE_LOGIN VERIFY_USER)."};
    return std::nullopt;
}

bool certificate_replaces_password(const config::server_settings& s, const security_state& st,
                                   const auth::cert_mapping* cert, const std::string& user) {
    return st.control_secure && s.password_optional && cert && cert->user == user;
}

std::optional<std::string> check_data_session_reuse(const config::server_settings& s, const std::string& control_tag,
                                                    const std::string& resumed_tag) {
    if (s.session_reuse_required && (control_tag.empty() || resumed_tag != control_tag))
        return "the data connection must resume the control connection's TLS session (SECURE_SESSION_REUSE REQUIRED)";
    return std::nullopt;
}

bool passive_peer_must_match(const config::server_settings& s) {
    return s.passive_dataconn == config::redirect_policy::noredirect;
}

}  // namespace ferry::server
