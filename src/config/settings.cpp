#include "config/settings.hpp"

#include <charconv>

#include <set>

#include "config/schema.hpp"

namespace ferry::config {
namespace {

// Statement combinations that cannot work; reported against the statement that needs the other.
// Every problem is added to problems (none: the combination works).
void check_server(const server_settings& s, const std::vector<statement>& sts, std::string_view file,
                  std::vector<std::string>& problems) {
    auto where = [&](std::string_view kw) {
        for (const auto& st : sts)
            if (st.keyword == kw) return st.where();
        return std::string(file) + ":0";
    };
    if (!s.tls_configured()) {
        if (s.auth_tls) {
            problems.push_back(where("EXTENSIONS") + ": EXTENSIONS AUTH_TLS needs a KEYRING statement (certificate and key)");
        }
        if (s.tls_port_set && s.tls_port != 0) {
            problems.push_back(where("TLSPORT") + ": TLSPORT needs a KEYRING statement (certificate and key), or use TLSPORT 0");
        }
    }
    bool any_tls = s.tls_configured() && (s.auth_tls || s.tls_port != 0);
    if (s.secure == secure_ftp::required && !any_tls) {
        problems.push_back(where("SECURE_FTP") +
                ": SECURE_FTP REQUIRED needs TLS: add KEYRING and EXTENSIONS AUTH_TLS (or a TLSPORT)");
    }
    if (s.dataconn == secure_dataconn::private_ && !any_tls) {
        problems.push_back(where("SECURE_DATACONN") +
                ": SECURE_DATACONN PRIVATE needs TLS: add KEYRING and EXTENSIONS AUTH_TLS (or a TLSPORT)");
    }
    if (s.login != secure_login::no_client_auth && s.cafile.empty()) {
        problems.push_back(where("SECURE_LOGIN") + ": SECURE_LOGIN " +
                (s.login == secure_login::required ? "REQUIRED" : "VERIFY_USER") +
                " needs CAFILE (the CAs that sign client certificates)");
    }
    if (!s.crlfile.empty() && s.login == secure_login::no_client_auth) {
        problems.push_back(where("CRLFILE") + ": CRLFILE needs SECURE_LOGIN REQUIRED or VERIFY_USER (without them no client "
                                   "certificate is asked for, so none could be found revoked)");
    }
    if (s.login == secure_login::verify_user && s.certmap.empty()) {
        problems.push_back(where("SECURE_LOGIN") + ": SECURE_LOGIN VERIFY_USER needs CERTMAP (which certificate is which user)");
    }
    if (s.password_optional && s.login == secure_login::no_client_auth) {
        problems.push_back(where("SECURE_PASSWORD") +
                ": SECURE_PASSWORD OPTIONAL needs SECURE_LOGIN REQUIRED or VERIFY_USER (a certificate must stand in "
                "for the password)");
    }
    if (s.session_reuse_required && s.tls_timeout_seconds == 0) {
        problems.push_back(where("SECURE_SESSION_REUSE") +
                ": SECURE_SESSION_REUSE REQUIRED cannot work with TLSTIMEOUT 0 (no session could be resumed)");
    }
    if (!s.ticket_key_file.empty() && (!s.tls_configured() || s.tls_timeout_seconds == 0)) {
        problems.push_back(where("TICKETKEYFILE") + ": TICKETKEYFILE needs a KEYRING and a TLSTIMEOUT above 0 (the keys "
                                                    "it gives encrypt session tickets)");
    }
    if (s.password_optional && s.certmap.empty()) {
        problems.push_back(where("SECURE_PASSWORD") + ": SECURE_PASSWORD OPTIONAL needs CERTMAP (which certificate is which user)");
    }
}

}  // namespace

bool parse_server_settings(std::string_view text, std::string_view file, server_settings& out, std::string& error) {
    std::vector<std::string> problems;
    if (parse_server_settings_all(text, file, out, problems)) return true;
    error = problems.front();
    return false;
}

bool parse_server_settings_all(std::string_view text, std::string_view file, server_settings& out,
                               std::vector<std::string>& problems) {
    std::vector<statement> sts;
    std::string error;
    if (!lex(text, file, sts, error)) {
        problems.push_back(error);
        return false;
    }
    const std::size_t before = problems.size();
    std::set<std::string> once;
    for (const auto& st : sts) {
        const schema_entry* e = find_entry(st.keyword, side::server);
        if (!e) {
            problems.push_back(st.where() + ": unknown statement '" + st.keyword + "' (ferryd --help-config lists them)");
            continue;
        }
        if (!e->repeatable && !once.insert(st.keyword).second) {
            problems.push_back(st.where() + ": " + st.keyword + " is given twice; it may appear once");
            continue;
        }
        std::string msg;
        if (!e->apply_server(out, st, msg)) problems.push_back(st.where() + ": " + msg);
    }
    // Combinations are judged once every statement is right (a wrong one would be reported twice).
    if (problems.size() == before) check_server(out, sts, file, problems);
    return problems.size() == before;
}

bool load_server_settings(const std::string& path, server_settings& out, std::string& error) {
    std::string text;
    return read_file(path, text, error) && parse_server_settings(text, path, out, error);
}

std::optional<listen_address> parse_listen_address(std::string_view text) {
    std::string_view host = "0.0.0.0", port = text;
    if (!text.empty() && text[0] == '[') {
        const auto close = text.find("]:");
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else if (const auto c = text.rfind(':'); c != std::string_view::npos) {
        host = text.substr(0, c);
        port = text.substr(c + 1);
    }
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || port.empty() || p > 65535 || host.empty())
        return std::nullopt;
    return listen_address{std::string(host), static_cast<std::uint16_t>(p)};
}

}  // namespace ferry::config
