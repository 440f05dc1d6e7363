#include "config/settings.hpp"

#include <set>

#include "config/schema.hpp"

namespace ferry::config {
namespace {

// Statement combinations that cannot work; reported against the statement that needs the other.
bool check_server(const server_settings& s, const std::vector<statement>& sts, std::string_view file,
                  std::string& error) {
    auto where = [&](std::string_view kw) {
        for (const auto& st : sts)
            if (st.keyword == kw) return st.where();
        return std::string(file) + ":0";
    };
    if (!s.tls_configured()) {
        if (s.auth_tls) {
            error = where("EXTENSIONS") + ": EXTENSIONS AUTH_TLS needs a KEYRING statement (certificate and key)";
            return false;
        }
        if (s.tls_port_set && s.tls_port != 0) {
            error = where("TLSPORT") + ": TLSPORT needs a KEYRING statement (certificate and key), or use TLSPORT 0";
            return false;
        }
    }
    bool any_tls = s.tls_configured() && (s.auth_tls || s.tls_port != 0);
    if (s.secure == secure_ftp::required && !any_tls) {
        error = where("SECURE_FTP") +
                ": SECURE_FTP REQUIRED needs TLS: add KEYRING and EXTENSIONS AUTH_TLS (or a TLSPORT)";
        return false;
    }
    if (s.dataconn == secure_dataconn::private_ && !any_tls) {
        error = where("SECURE_DATACONN") +
                ": SECURE_DATACONN PRIVATE needs TLS: add KEYRING and EXTENSIONS AUTH_TLS (or a TLSPORT)";
        return false;
    }
    if (s.login != secure_login::no_client_auth && s.cafile.empty()) {
        error = where("SECURE_LOGIN") + ": SECURE_LOGIN " +
                (s.login == secure_login::required ? "REQUIRED" : "VERIFY_USER") +
                " needs CAFILE (the CAs that sign client certificates)";
        return false;
    }
    if (!s.crlfile.empty() && s.login == secure_login::no_client_auth) {
        error = where("CRLFILE") + ": CRLFILE needs SECURE_LOGIN REQUIRED or VERIFY_USER (without them no client "
                                   "certificate is asked for, so none could be found revoked)";
        return false;
    }
    if (s.login == secure_login::verify_user && s.certmap.empty()) {
        error = where("SECURE_LOGIN") + ": SECURE_LOGIN VERIFY_USER needs CERTMAP (which certificate is which user)";
        return false;
    }
    if (s.password_optional && s.login == secure_login::no_client_auth) {
        error = where("SECURE_PASSWORD") +
                ": SECURE_PASSWORD OPTIONAL needs SECURE_LOGIN REQUIRED or VERIFY_USER (a certificate must stand in "
                "for the password)";
        return false;
    }
    if (s.session_reuse_required && s.tls_timeout_seconds == 0) {
        error = where("SECURE_SESSION_REUSE") +
                ": SECURE_SESSION_REUSE REQUIRED cannot work with TLSTIMEOUT 0 (no session could be resumed)";
        return false;
    }
    if (s.password_optional && s.certmap.empty()) {
        error = where("SECURE_PASSWORD") + ": SECURE_PASSWORD OPTIONAL needs CERTMAP (which certificate is which user)";
        return false;
    }
    return true;
}

}  // namespace

bool parse_server_settings(std::string_view text, std::string_view file, server_settings& out, std::string& error) {
    std::vector<statement> sts;
    if (!lex(text, file, sts, error)) return false;
    std::set<std::string> once;
    for (const auto& st : sts) {
        const schema_entry* e = find_entry(st.keyword, side::server);
        if (!e) {
            error = st.where() + ": unknown statement '" + st.keyword + "' (ferryd --help-config lists them)";
            return false;
        }
        if (!e->repeatable && !once.insert(st.keyword).second) {
            error = st.where() + ": " + st.keyword + " is given twice; it may appear once";
            return false;
        }
        std::string msg;
        if (!e->apply_server(out, st, msg)) {
            error = st.where() + ": " + msg;
            return false;
        }
    }
    return check_server(out, sts, file, error);
}

bool load_server_settings(const std::string& path, server_settings& out, std::string& error) {
    std::string text;
    return read_file(path, text, error) && parse_server_settings(text, path, out, error);
}

}  // namespace ferry::config
