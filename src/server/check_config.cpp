#include "server/check_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "auth/cert_map.hpp"
#include "auth/users_file.hpp"
#include "config/statement.hpp"
#include "sandbox/sandbox.hpp"
#include "server/server_context.hpp"
#include "server/startup.hpp"
#include "server/tls_setup.hpp"

namespace fs = std::filesystem;

namespace ferry::server {

config_check check_config(const std::string& config_file, const std::string& users_root) {
    config_check out;
    std::string text, error;
    config::server_settings s;
    if (!config::read_file(config_file, text, error)) {
        out.problems.push_back(error);
        out.settings = config::effective_values(s);
        return out;
    }
    config::parse_server_settings_all(text, config_file, s, out.problems);
    out.settings = config::effective_values(s);
    // Where each statement is, for problems found in the files they name.
    std::vector<config::statement> sts;
    config::lex(text, config_file, sts, error);
    for (const auto& st : sts) out.set_at.emplace(st.keyword, st.where());
    auto where = [&](std::string_view kw) {
        for (const auto& st : sts)
            if (st.keyword == kw) return st.where() + ": " + std::string(kw) + ": ";
        return config_file + ": ";
    };
    if (!out.problems.empty()) return out;  // the statements themselves are wrong: fix those first

    // As server::load: SYSTEMUSERS's conditions, USERS, the trusted files, CERTMAP, USERS, TLS, RUNAS.
    if (!s.system_users.value.empty()) {
        if (!s.sandbox) out.problems.push_back(s.system_users.where + ": SYSTEMUSERS ON needs SANDBOX ON");
        if (::geteuid() != 0)
            out.problems.push_back(s.system_users.where + ": SYSTEMUSERS ON needs ferryd started as root");
    } else if (s.users.empty()) {
        out.problems.push_back(config_file + ": no USERS statement (and SYSTEMUSERS OFF): nobody could log in");
    }
    resolve_relative_names(s, config_file);
    std::set<std::string> untrusted;
    for (auto [kw, path, what, ours] :
         {std::tuple{"USERS", s.users, "USERS file", false}, std::tuple{"CERTMAP", s.certmap, "CERTMAP file", false},
          std::tuple{"CAFILE", s.cafile, "CAFILE", false}, std::tuple{"CRLFILE", s.crlfile, "CRLFILE", false},
          std::tuple{"KEYRING", s.keyring, "KEYRING", true}}) {
        if (path.empty()) continue;
        if (auto why = check_trusted_file(path, what, ours)) {
            out.problems.push_back(where(kw) + *why);
            untrusted.insert(kw);
        }
    }
    if (!s.users.empty() && !untrusted.count("USERS")) {
        auth::users_file users;
        const std::string root = users_root.empty() ? fs::path(s.users).parent_path().string() : users_root;
        if (!users.load(s.users, root, error))
            out.problems.push_back(error);  // already "file:line: ..."
        else
            for (const auto& u : users.all()) {
                std::error_code ec;
                if (!fs::is_directory(u.home, ec))
                    out.warnings.push_back(s.users + ": the home folder " + u.home + " of \"" + u.name +
                                           "\" is not a folder: that user's logins fail");
                // Only REQUIRED and VERIFY_USER ask the client for a certificate.
                if (!u.certificate.empty() && s.login == config::secure_login::no_client_auth)
                    out.warnings.push_back(s.users + ": \"" + u.name +
                                           "\" has sha256= but SECURE_LOGIN is NO_CLIENT_AUTH, so no client "
                                           "certificate is asked for: that user's logins fail");
            }
    }
    if (!s.certmap.empty() && !untrusted.count("CERTMAP")) {
        auth::cert_map certs;
        if (!certs.load(s.certmap, error)) out.problems.push_back(error);
    }
    if (s.tls_configured() && !untrusted.count("KEYRING") && !untrusted.count("CAFILE") &&
        !untrusted.count("CRLFILE")) {
        // The TLS context made as at start (certificate, key, CAs, CRLs, cipher names): nothing bound.
        server_context ctx;
        ctx.settings = s;
        if (!load_tls(ctx, error)) out.problems.push_back(error.rfind(config_file, 0) == 0 ? error : where("KEYRING") + error);
    }
    std::string why;
    if (!sandbox::resolve_run_user(s.run_as.value, why))
        out.problems.push_back((s.run_as.where.empty() ? config_file : s.run_as.where) + ": " + why);
    for (auto [kw, log] : {std::pair{"XFERLOG", &s.xferlog}, std::pair{"JSONLOG", &s.jsonlog}}) {
        if (log->empty() || *log == "-") continue;
        std::error_code ec;
        const fs::path dir = fs::path(*log).parent_path();
        if (!fs::is_directory(dir, ec))
            out.problems.push_back(where(kw) + "the folder " + dir.string() + " does not exist");
        else if (fs::exists(*log, ec) && !fs::is_regular_file(*log, ec))
            out.problems.push_back(where(kw) + *log + " is not a regular file");
    }
    for (const auto& w : insecure_settings(s)) out.warnings.push_back("insecure setting: " + w);
    return out;
}

std::string format_config_settings(const config_check& c, const std::string& config_file) {
    std::string out = "; effective settings of " + config_file + "\n";
    std::size_t width = 0, value_width = 0;
    for (const auto& e : c.settings) {
        width = std::max(width, e.keyword.size());
        value_width = std::max(value_width, e.value.size());
    }
    value_width = std::min<std::size_t>(value_width, 40);
    for (const auto& e : c.settings) {
        auto at = c.set_at.find(e.keyword);
        std::string line = e.keyword + std::string(width + 1 - e.keyword.size(), ' ') + e.value;
        line += std::string(width + 1 + value_width + 1 > line.size() ? width + 1 + value_width + 1 - line.size() : 1, ' ');
        out += line + "; " + (at == c.set_at.end() ? std::string("default") : at->second) + "\n";
    }
    return out;
}

std::string format_config_problems(const config_check& c, const std::string& config_file) {
    std::string out;
    for (const auto& w : c.warnings) out += "warning: " + w + "\n";
    for (const auto& p : c.problems) out += "error: " + p + "\n";
    out += c.ok() ? config_file + ": OK\n"
                  : config_file + ": " + std::to_string(c.problems.size()) + " problem(s); ferryd would not start\n";
    return out;
}

}  // namespace ferry::server
