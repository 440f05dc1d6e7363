// ferryd: the Ferry FTPS server.
#include <sys/random.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <set>
#include <tuple>
#include <fmt/core.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "config/schema.hpp"
#include "config/settings.hpp"
#include "server/firewall_rules.hpp"
#include "server/server.hpp"
#include "sandbox/sandbox.hpp"
#include "server/startup.hpp"
#include "tls/context.hpp"
#include "vfs/root.hpp"

namespace fs = std::filesystem;
using namespace ferry;

namespace {

// "addr:port", "[v6]:port" or a bare port
bool parse_listen(const std::string& text, config::listen_address& out) {
    std::string host = "0.0.0.0", port = text;
    if (!text.empty() && text[0] == '[') {
        auto close = text.find("]:");
        if (close == std::string::npos) return false;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else if (auto c = text.rfind(':'); c != std::string::npos) {
        host = text.substr(0, c);
        port = text.substr(c + 1);
    }
    try {
        unsigned long p = std::stoul(port);
        if (p > 65535) return false;
        out = {host, static_cast<std::uint16_t>(p)};
    } catch (...) {
        return false;
    }
    return true;
}

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

std::shared_ptr<spdlog::logger> make_logger(bool verbose) {
    auto log = spdlog::stderr_color_mt("ferryd");
    log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    log->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    log->flush_on(spdlog::level::info);
    return log;
}

// RUNAS, ACTIVEDATAPORT and SANDBOX as a plan for the process that serves: resolved before
// anything is bound, so that a wrong RUNAS is an error at once.
std::optional<sandbox::plan> confinement(const config::server_settings& s, const std::vector<std::string>& homes) {
    std::string why;
    auto user = sandbox::resolve_run_user(s.run_as.value, why);
    if (!user) {
        fmt::print(stderr, "ferryd: {}{}\n", s.run_as.where.empty() ? "" : s.run_as.where + ": ", why);
        return std::nullopt;
    }
    auto paths = server::paths_after_start(s, homes);
    return sandbox::plan{std::move(user), s.active_from_port_20, s.sandbox, std::move(paths.read_write),
                         std::move(paths.read_only)};
}

int run_server(std::shared_ptr<server::server_context> ctx, const sandbox::plan& plan,
               const std::function<void(server::server&)>& on_ready) {
    server::server srv(ctx);
    std::string error;
    if (!srv.start(error)) {
        fmt::print(stderr, "ferryd: {}\n", error);
        return 1;
    }
    // Listeners bound, no thread started yet: from here on nothing runs with more than it needs.
    auto report = sandbox::apply(plan);
    for (const auto& m : report.missing) ctx->log->warn("sandbox: not applied: {}", m);
    if (report.fatal) {
        ctx->log->error("sandbox: refusing to serve with privileges that could not be dropped");
        return 1;
    }
    std::string applied;
    for (const auto& a : report.applied) applied += (applied.empty() ? "" : ", ") + a;
    ctx->log->info("sandbox: {}", applied);
    for (const auto& ep : srv.explicit_endpoints()) ctx->log->info("listening on {}:{} (explicit TLS / AUTH)", ep.address().to_string(), ep.port());
    for (const auto& ep : srv.implicit_endpoints()) ctx->log->info("listening on {}:{} (implicit TLS)", ep.address().to_string(), ep.port());
    if (on_ready) on_ready(srv);
    srv.run(true);
    return 0;
}

// TLS options from the statements; cipher names are judged here, where OpenSSL is known, and
// reported against the CIPHERSUITE statement that named them.
bool tls_options(const config::server_settings& s, tls::server_options& o, std::string& error) {
    o.keyring = s.keyring;
    static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
    o.min_version = versions[static_cast<int>(s.tls_min)];
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
        o.min_version = TLS1_3_VERSION;
    }
    if (!s.ciphersuites.empty() && o.ciphersuites.empty()) o.ciphersuites = "";  // defaults stay for TLS 1.3
    o.cafile = s.cafile;
    o.crlfile = s.crlfile;
    o.require_client_cert = s.login != config::secure_login::no_client_auth;
    o.session_timeout = s.tls_timeout_seconds;
    // A ticket key encrypts for two session lifetimes, so a ticket made just before a rotation
    // still resumes; made once here, it outlives the contexts SIGHUP replaces.
    if (o.session_timeout != 0)
        o.tickets = std::make_shared<tls::ticket_keys>(std::chrono::seconds(2 * std::uint64_t{o.session_timeout}));
    o.server_name = s.tls_server_name;
    return true;
}

bool load_tls(server::server_context& ctx, std::string& error) {
    if (!ctx.settings.tls_configured()) return true;
    tls::server_options o;
    if (!tls_options(ctx.settings, o, error)) return false;
    ctx.make_tls = [o](std::string& err) { return tls::context::make_server(o, err); };
    auto t = ctx.make_tls(error);
    ctx.set_tls(t);
    return t != nullptr;
}

int serve(const std::string& dir_arg, const std::string& listen_host, unsigned port, unsigned tls_port,
          const std::string& user, const std::string& runas, bool verbose) {
    std::error_code ec;
    fs::path dir = fs::weakly_canonical(dir_arg, ec);
    if (ec || !fs::is_directory(dir)) {
        fmt::print(stderr, "ferryd serve: '{}' is not a folder\n", dir_arg);
        return 2;
    }
    fs::path state = state_dir();
    if (auto why = state.empty() ? std::optional<std::string>("cannot create a private state folder")
                                 : server::make_private_dir(state.string())) {
        fmt::print(stderr, "ferryd serve: {}\n", *why);
        return 1;
    }
    fs::path pem = state / "serve.pem";
    std::string error;
    if (auto why = server::check_trusted_file(pem.string(), "the certificate and key", true)) {
        fmt::print(stderr, "ferryd serve: {}\n", *why);
        return 1;
    }
    if (!fs::exists(pem)) {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
        if (std::string(host) != "localhost") san += ",DNS:" + std::string(host);
        if (listen_host != "0.0.0.0" && listen_host != "::") san += ",IP:" + listen_host;
        if (!tls::generate_self_signed(pem, host, san, 825, error)) {
            fmt::print(stderr, "ferryd serve: {}\n", error);
            return 1;
        }
    }
    auto ctx = std::make_shared<server::server_context>();
    auto& s = ctx->settings;
    s.listen.push_back({listen_host, static_cast<std::uint16_t>(port)});
    s.tls_port = static_cast<std::uint16_t>(tls_port);
    s.tls_port_set = true;
    s.keyring = pem;
    s.auth_tls = true;
    // A folder served by one command is served safely: TLS for login and for data.
    s.secure = config::secure_ftp::required;
    s.dataconn = config::secure_dataconn::private_;
    const std::string password = random_password();
    std::string users_text = user + ":" + auth::make_sha512_hash(password) + ":" + dir.string() + "\n";
    if (!ctx->users.parse(users_text, "(serve)", "/", error)) {
        fmt::print(stderr, "ferryd serve: {}\n", error);
        return 2;
    }
    // Started as root, a folder is served as its owner, as if that user had run ferryd serve; a
    // folder of root's is served as root only when asked for by name.
    std::string as = runas;
    if (as.empty() && ::geteuid() == 0) {
        struct stat st{};
        passwd* owner = ::stat(dir.c_str(), &st) == 0 && st.st_uid != 0 ? ::getpwuid(st.st_uid) : nullptr;
        if (owner) {
            as = owner->pw_name;
        } else {
            fmt::print(stderr, "ferryd serve: {} belongs to root: serve it with --runas root (confined, without "
                               "capabilities) or --runas USER\n", dir.string());
            return 2;
        }
    }
    if (!as.empty()) s.run_as = {as, "--runas"};
    auto plan = confinement(s, {dir.string()});
    if (!plan) return 2;
    ctx->log = make_logger(verbose);
    if (!load_tls(*ctx, error)) {
        fmt::print(stderr, "ferryd serve: {}\n", error);
        return 1;
    }
    return run_server(ctx, *plan, [&](server::server& srv) {
        auto ep = srv.explicit_endpoints().at(0);
        std::string shown = (listen_host == "0.0.0.0" || listen_host == "::") ? "127.0.0.1" : listen_host;
        std::string hostport = (shown.find(':') != std::string::npos ? "[" + shown + "]" : shown) + ":" + std::to_string(ep.port());
        fmt::print(
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
            dir.string(), hostport,
            srv.implicit_endpoints().empty() ? "" : fmt::format("; implicit TLS port {}", srv.implicit_endpoints()[0].port()),
            user, password, pem.string(), ctx->current_tls()->fingerprint(), ctx->current_tls()->fingerprint(), user,
            password, hostport, pem.string(), user, password, hostport, user, password,
            pem.string(), hostport, hostport, user);
        std::fflush(stdout);
    });
}

}  // namespace

int main(int argc, char** argv) {
    // A peer that closes mid-write must be an EPIPE for one session, not the end of the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"ferryd: a secure FTP (FTPS) server.\n"
                 "Run from an FTP.DATA-style configuration file (--config), or serve one folder at once (serve)."};
    app.set_version_flag("--version", "ferryd 0.1.0");
    std::string config_file, root_dir;
    std::vector<std::string> listen;
    int tls_port = -1;
    bool verbose = false, help_config = false;
    app.add_option("-c,--config", config_file, "Configuration file (statements: KEYWORD value ; comment)");
    app.add_option("-l,--listen", listen, "Control listener ADDRESS:PORT (repeatable; replaces LISTEN statements)");
    app.add_option("--tlsport", tls_port, "Implicit-TLS port (replaces TLSPORT; 0 disables)")->check(CLI::Range(0, 65535));
    app.add_option("--root", root_dir, "Folder against which relative home folders in the USERS file are resolved")
        ->check(CLI::ExistingDirectory);
    app.add_flag("-v,--verbose", verbose, "Log every command (passwords are masked)");
    app.add_flag("--help-config", help_config, "List the configuration statements and exit");

    auto* serve_cmd = app.add_subcommand("serve", "Serve one folder over FTPS at once: generated certificate and password");
    std::string serve_dir = ".", serve_host = "0.0.0.0", serve_user = "ferry", serve_runas;
    unsigned serve_port = 2121, serve_tls_port = 2990;
    serve_cmd->add_option("DIR", serve_dir, "Folder to serve (default: the current folder)");
    serve_cmd->add_option("--address", serve_host, "Address to listen on (default 0.0.0.0)");
    serve_cmd->add_option("--port", serve_port, "Explicit-TLS control port (default 2121)")->check(CLI::Range(0, 65535));
    serve_cmd->add_option("--tlsport", serve_tls_port, "Implicit-TLS port (default 2990; 0 disables)")->check(CLI::Range(0, 65535));
    serve_cmd->add_option("--user", serve_user, "User name (default ferry)");
    serve_cmd->add_option("--runas", serve_runas,
                          "Started as root: the user that serves (default: the folder's owner; root must be named)");
    serve_cmd->add_flag("-v,--verbose", verbose, "Log every command");

    auto* rules_cmd = app.add_subcommand("firewall-rules",
                                         "Print the nftables/iptables rules a firewall needs for --config FILE");

    CLI11_PARSE(app, argc, argv);

    if (help_config) {
        fmt::print("{}", config::describe(config::side::server));
        return 0;
    }
    if (serve_cmd->parsed()) {
        return serve(serve_dir, serve_host, serve_port, serve_tls_port, serve_user, serve_runas, verbose);
    }
    if (config_file.empty()) {
        fmt::print(stderr, "ferryd: give --config FILE, or 'ferryd serve [DIR]' to serve a folder at once (see --help)\n");
        return 2;
    }
    auto ctx = std::make_shared<server::server_context>();
    std::string error;
    if (!config::load_server_settings(config_file, ctx->settings, error)) {
        fmt::print(stderr, "ferryd: {}\n", error);
        return 2;
    }
    if (rules_cmd->parsed()) {
        fmt::print("{}", server::firewall_rules(ctx->settings, config_file));
        return 0;
    }
    auto& s = ctx->settings;
    if (!listen.empty()) {
        s.listen.clear();
        for (const auto& l : listen) {
            config::listen_address a;
            if (!parse_listen(l, a)) {
                fmt::print(stderr, "ferryd: --listen '{}': expected ADDRESS:PORT\n", l);
                return 2;
            }
            s.listen.push_back(a);
        }
    }
    if (tls_port >= 0) {
        s.tls_port = static_cast<std::uint16_t>(tls_port);
        s.tls_port_set = true;
    }
    if (s.users.empty()) {
        fmt::print(stderr, "ferryd: {}: no USERS statement: nobody could log in\n", config_file);
        return 2;
    }
    // Relative names in the config are relative to the config file's folder.
    fs::path base = fs::absolute(config_file).parent_path();
    auto rel = [&](std::string& p) {
        if (!p.empty() && fs::path(p).is_relative()) p = (base / p).string();
    };
    rel(s.users);
    rel(s.keyring);
    rel(s.cafile);
    rel(s.certmap);
    rel(s.crlfile);
    for (auto [path, what, ours] : {std::tuple{s.users, "USERS file", false}, std::tuple{s.certmap, "CERTMAP file", false},
                                    std::tuple{s.cafile, "CAFILE", false}, std::tuple{s.crlfile, "CRLFILE", false},
                                    std::tuple{s.keyring, "KEYRING", true}}) {
        if (path.empty()) continue;
        if (auto why = server::check_trusted_file(path, what, ours)) {
            fmt::print(stderr, "ferryd: {}\n", *why);
            return 2;
        }
    }
    if (!s.certmap.empty() && !ctx->certs.load(s.certmap, error)) {
        fmt::print(stderr, "ferryd: {}\n", error);
        return 2;
    }
    if (!ctx->users.load(s.users, root_dir.empty() ? fs::path(s.users).parent_path().string() : root_dir, error)) {
        fmt::print(stderr, "ferryd: {}\n", error);
        return 2;
    }
    std::set<std::string> homes;
    for (const auto& u : ctx->users.all()) homes.insert(u.home);
    auto plan = confinement(s, {homes.begin(), homes.end()});
    if (!plan) return 2;
    if (!load_tls(*ctx, error)) {
        fmt::print(stderr, "ferryd: {}\n", error);
        return 2;
    }
    ctx->log = make_logger(verbose);
    for (const auto& w : server::insecure_settings(s)) ctx->log->warn("insecure setting: {}", w);
    // Upload temporaries of a previous run that crashed (kept partials stay).
    for (const auto& h : homes)
        if (std::size_t n = vfs::remove_stale_uploads(h)) ctx->log->info("removed {} stale upload file(s) below {}", n, h);
    return run_server(ctx, *plan, nullptr);
}
