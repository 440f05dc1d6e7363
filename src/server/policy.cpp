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

}  // namespace ferry::server
