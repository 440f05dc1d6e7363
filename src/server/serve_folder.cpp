#include "server/serve_folder.hpp"

#include <fmt/core.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "auth/users_file.hpp"
#include "server/server.hpp"
#include "server/startup.hpp"
#include "server/tls_setup.hpp"
#include "tls/context.hpp"

namespace fs = std::filesystem;

namespace ferry::server {

namespace {

std::string random_password() {
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    unsigned char raw[18];
    if (getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) throw std::runtime_error("getrandom failed");
    std::string out;
    for (unsigned char b : raw) out += alphabet[b % (sizeof alphabet - 1)];
    return out;
}

fs::path state_dir() {
    if (const char* d = std::getenv("FERRYD_STATE_DIR")) return d;
    if (const char* x = std::getenv("XDG_STATE_HOME")) return fs::path(x) / "ferryd";
    if (const char* h = std::getenv("HOME")) return fs::path(h) / ".local/state/ferryd";
    // SECURITY: never a predictable shared folder: a fresh private one (a new certificate per run).
    char tmpl[] = "/tmp/ferryd-XXXXXX";
    return ::mkdtemp(tmpl) ? fs::path(tmpl) : fs::path();
}

}  // namespace

std::optional<served_folder> load_folder(const folder_request& r, start_error& error) {
    std::error_code ec;
    fs::path dir = fs::weakly_canonical(r.dir, ec);
    if (ec || !fs::is_directory(dir)) {
        error = {"'" + r.dir + "' is not a folder", 2};
        return std::nullopt;
    }
    fs::path state = state_dir();
    if (auto why = state.empty() ? std::optional<std::string>("cannot create a private state folder")
                                 : make_private_dir(state.string())) {
        error = {*why, 1};
        return std::nullopt;
    }
    fs::path pem = state / "serve.pem";
    if (auto why = check_trusted_file(pem.string(), "the certificate and key", true)) {
        error = {*why, 1};
        return std::nullopt;
    }
    if (!fs::exists(pem)) {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
        if (std::string(host) != "localhost") san += ",DNS:" + std::string(host);
        if (r.listen_host != "0.0.0.0" && r.listen_host != "::") san += ",IP:" + r.listen_host;
        if (!tls::generate_self_signed(pem, host, san, 825, error.text)) {
            error.exit_status = 1;
            return std::nullopt;
        }
    }
    auto ctx = std::make_shared<server_context>();
    auto& s = ctx->settings;
    s.listen.push_back({r.listen_host, r.port});
    s.tls_port = r.tls_port;
    s.tls_port_set = true;
    s.keyring = pem;
    s.auth_tls = true;
    // A folder served by one command is served safely: TLS for login and for data.
    s.secure = config::secure_ftp::required;
    s.dataconn = config::secure_dataconn::private_;
    served_folder out{{ctx, {dir.string()}, {}}, dir.string(), pem.string(), r.user, random_password()};
    std::string users_text = r.user + ":" + auth::make_sha512_hash(out.password) + ":" + dir.string() + "\n";
    if (!ctx->users.parse(users_text, "(serve)", "/", error.text)) {
        error.exit_status = 2;
        return std::nullopt;
    }
    // Started as root, a folder is served as its owner, as if that user had run ferryd serve; a
    // folder of root's is served as root only when asked for by name.
    std::string as = r.run_as;
    if (as.empty() && ::geteuid() == 0) {
        struct stat st{};
        passwd* owner = ::stat(dir.c_str(), &st) == 0 && st.st_uid != 0 ? ::getpwuid(st.st_uid) : nullptr;
        if (!owner) {
            error = {dir.string() + " belongs to root: serve it with --runas root (confined, without "
                                    "capabilities) or --runas USER",
                     2};
            return std::nullopt;
        }
        as = owner->pw_name;
    }
    if (!as.empty()) s.run_as = {as, "--runas"};
    auto plan = confinement(s, out.server.homes, error);
    if (!plan) return std::nullopt;
    out.server.confinement = std::move(*plan);
    ctx->log = r.log ? r.log : std::make_shared<spdlog::logger>("ferryd");  // no sink: logs nowhere
    if (!load_tls(*ctx, error.text)) {
        error.exit_status = 1;
        return std::nullopt;
    }
    return out;
}

std::string serve_banner(const served_folder& f, const std::string& listen_host, const server& srv) {
    const auto ep = srv.explicit_endpoints().at(0);
    const std::string shown = (listen_host == "0.0.0.0" || listen_host == "::") ? "127.0.0.1" : listen_host;
    const std::string hostport =
        (shown.find(':') != std::string::npos ? "[" + shown + "]" : shown) + ":" + std::to_string(ep.port());
    const std::string& fingerprint = f.server.context->current_tls()->fingerprint();
    const std::string &user = f.user, &password = f.password, &pem = f.certificate;
    return fmt::format(
        "\nferryd is serving {} over FTPS (TLS required for login and data).\n\n"
        "  address      {} (explicit TLS: AUTH TLS){}\n"
        "  user         {}\n"
        "  password     {}\n"
        "  certificate  {} (self-signed)\n"
        "  fingerprint  {}\n\n"
        "Connect with:\n"
        "  ferry --fingerprint {} ls ftp://{}:{}@{}/\n"
        "  curl --ssl-reqd --cacert {} --user {}:{} ftp://{}/\n"
        "  lftp -u {},{} -e 'set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file {}' {}\n"
        "  FileZilla: host {}, protocol FTP, encryption 'Require explicit FTP over TLS', user {}\n"
        "  (from another machine, use this machine's address and check the fingerprint)\n\n"
        "Stop with Ctrl-C.\n\n",
        f.dir, hostport,
        srv.implicit_endpoints().empty() ? "" : fmt::format("; implicit TLS port {}", srv.implicit_endpoints()[0].port()),
        user, password, pem, fingerprint, fingerprint, user, password, hostport, pem, user, password, hostport, user,
        password, pem, hostport, hostport, user);
}

}  // namespace ferry::server
