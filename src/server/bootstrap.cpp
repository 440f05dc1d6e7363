#include "server/bootstrap.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include "server/server.hpp"
#include "server/startup.hpp"
#include "server/tls_setup.hpp"
#include "vfs/root.hpp"

namespace fs = std::filesystem;

namespace ferry::server {

namespace {

// Settings -> a server context: relative names resolved, files others could change refused,
// USERS and CERTMAP read, the TLS context made. At start and on SIGHUP (shared: the state a
// reloaded context keeps from the running one).
std::shared_ptr<server_context> build_context(config::server_settings settings, const load_options& opts,
                                              std::shared_ptr<server_shared> shared, std::string& error) {
    auto& s = settings;
    const bool system_users = !s.system_users.value.empty();
    if (s.users.empty() && !system_users) {
        error = opts.config_file + ": no USERS statement (and SYSTEMUSERS OFF): nobody could log in";
        return nullptr;
    }
    resolve_relative_names(s, opts.config_file);
    for (auto [path, what, ours] : {std::tuple{s.users, "USERS file", false}, std::tuple{s.certmap, "CERTMAP file", false},
                                    std::tuple{s.cafile, "CAFILE", false}, std::tuple{s.crlfile, "CRLFILE", false},
                                    std::tuple{s.keyring, "KEYRING", true},
                                    std::tuple{s.ticket_key_file, "TICKETKEYFILE", true}}) {
        if (path.empty()) continue;
        if (auto why = check_trusted_file(path, what, ours)) {
            error = *why;
            return nullptr;
        }
    }
    auto ctx = shared ? std::make_shared<server_context>(std::move(shared)) : std::make_shared<server_context>();
    ctx->settings = std::move(settings);
    const auto& cs = ctx->settings;
    if (!cs.certmap.empty() && !ctx->certs.load(cs.certmap, error)) return nullptr;
    std::string root = opts.users_root.empty() ? fs::path(cs.users).parent_path().string() : opts.users_root;
    if (!cs.users.empty() && !ctx->users.load(cs.users, root, error)) return nullptr;
    if (!load_tls(*ctx, error)) return nullptr;
    // Last: a reload that fails before this keeps the running log file.
    if (!ctx->shared->xferlog.open(cs.xferlog, "transfer log", error)) return nullptr;
    if (!ctx->shared->jsonlog.open(cs.jsonlog, "event log", error)) return nullptr;
    ctx->log = opts.log ? opts.log : std::make_shared<spdlog::logger>("ferryd");  // no sink: logs nowhere
    return ctx;
}

// SIGHUP: the configuration file read again into a new context. What was fixed at start (the
// listeners, the user and sandbox of the process, UMASK) stays as it is; a change there is
// reported, for the next start.
std::shared_ptr<server_context> reload_context(const server_context& running, const load_options& opts,
                                               const std::vector<std::string>& homes, std::string& error) {
    config::server_settings s;
    if (!config::load_server_settings(opts.config_file, s, error)) return nullptr;
    const auto& r = running.settings;
    std::vector<std::string> fixed;
    if (s.run_as.value != r.run_as.value) fixed.push_back("RUNAS");
    if (s.sandbox != r.sandbox) fixed.push_back("SANDBOX");
    if (s.umask != r.umask) fixed.push_back("UMASK");
    if (s.active_from_port_20 != r.active_from_port_20) fixed.push_back("ACTIVEDATAPORT");
    // The PAM broker was forked at start, and the sandbox fixed the system homes and capabilities.
    if (s.system_users.value != r.system_users.value || s.pam_service != r.pam_service ||
        s.system_homes != r.system_homes || s.system_min_uid != r.system_min_uid)
        fixed.push_back("SYSTEMUSERS, PAMSERVICE, SYSTEMHOMES, SYSTEMMINUID");
    s.listen = r.listen;  // also what --listen / --tlsport gave
    s.tls_port = r.tls_port;
    s.tls_port_set = r.tls_port_set;
    s.run_as = r.run_as;
    s.sandbox = r.sandbox;
    s.umask = r.umask;
    s.active_from_port_20 = r.active_from_port_20;
    s.system_users = r.system_users;
    s.pam_service = r.pam_service;
    s.system_homes = r.system_homes;
    s.system_min_uid = r.system_min_uid;
    auto ctx = build_context(std::move(s), opts, running.shared, error);
    if (!ctx) return nullptr;
    ctx->reload = running.reload;
    if (!fixed.empty()) {
        std::string names;
        for (const auto& f : fixed) names += (names.empty() ? "" : ", ") + f;
        ctx->log->warn("SIGHUP: {} changed: kept as at start until ferryd restarts", names);
    }
    if (ctx->settings.sandbox)
        for (const auto& u : ctx->users.all()) {
            bool beneath = false;
            for (const auto& h : homes) {
                const auto rel = fs::path(u.home).lexically_relative(h);
                beneath = beneath || (!rel.empty() && *rel.begin() != "..");
            }
            if (!beneath)
                ctx->log->warn("SIGHUP: home folder {} of {} is outside the folders the sandbox allowed at start: "
                               "its logins fail until ferryd restarts", u.home, u.name);
        }
    return ctx;
}

}  // namespace

std::optional<loaded_server> load(config::server_settings settings, const load_options& opts, start_error& error) {
    error.exit_status = 2;
    if (const auto& su = settings.system_users; !su.value.empty()) {
        // SECURITY: a system user's files are reached with the user's own rights, which takes
        // CAP_SETUID and CAP_SETGID: only with seccomp narrowing them, and only from root.
        // (Checked at start only: a SIGHUP reload keeps these statements as they were.)
        if (!settings.sandbox) {
            error.text = su.where + ": SYSTEMUSERS ON needs SANDBOX ON";
            return std::nullopt;
        }
        if (::geteuid() != 0) {
            error.text = su.where + ": SYSTEMUSERS ON needs ferryd started as root (PAM reads the "
                                    "shadow passwords, and sessions take each user's rights)";
            return std::nullopt;
        }
    }
    auto ctx = build_context(std::move(settings), opts, nullptr, error.text);
    if (!ctx) return std::nullopt;
    const auto& cs = ctx->settings;
    std::set<std::string> homes;
    for (const auto& u : ctx->users.all()) homes.insert(u.home);
    loaded_server out{ctx, {homes.begin(), homes.end()}, {}};
    auto plan = confinement(cs, out.homes, error);
    if (!plan) return std::nullopt;
    out.confinement = std::move(*plan);
    // The configuration file's folder stays readable too: SIGHUP reads it again.
    const auto config_paths = paths_after_start(cs, {}, fs::absolute(opts.config_file).string());
    for (const auto& p : config_paths.read_only)
        if (std::find(out.confinement.read_only.begin(), out.confinement.read_only.end(), p) ==
            out.confinement.read_only.end())
            out.confinement.read_only.push_back(p);
    ctx->reload = [opts, homes = out.homes](const server_context& running, std::string& err) {
        return reload_context(running, opts, homes, err);
    };
    for (const auto& w : insecure_settings(cs)) ctx->log->warn("insecure setting: {}", w);
    // Upload temporaries of a previous run that crashed (kept partials stay).
    for (const auto& h : out.homes)
        if (std::size_t n = vfs::remove_stale_uploads(h)) ctx->log->info("removed {} stale upload file(s) below {}", n, h);
    return out;
}

std::optional<sandbox::plan> confinement(const config::server_settings& s, const std::vector<std::string>& homes,
                                         start_error& error) {
    std::string why;
    auto user = sandbox::resolve_run_user(s.run_as.value, why);
    if (!user) {
        error = {(s.run_as.where.empty() ? "" : s.run_as.where + ": ") + why, 2};
        return std::nullopt;
    }
    auto paths = paths_after_start(s, homes);
    sandbox::kept_capabilities keep{s.active_from_port_20, !s.system_users.value.empty()};
    return sandbox::plan{std::move(user), keep, s.sandbox, std::move(paths.read_write), std::move(paths.read_only)};
}

std::shared_ptr<spdlog::logger> make_log(bool verbose) {
    auto log = spdlog::stderr_color_mt("ferryd");
    log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    log->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
    log->flush_on(spdlog::level::info);
    return log;
}

bool run(const loaded_server& loaded, const std::function<void(server&)>& on_ready, std::string& error) {
    const auto& ctx = loaded.context;
    server srv(ctx);
    if (!srv.start(error)) return false;
    // Still root, no thread yet: the only moment the PAM broker can be forked.
    if (!ctx->settings.system_users.value.empty()) {
        if (!ctx->system_users.start(ctx->settings.pam_service, ctx->settings.system_min_uid, error)) {
            error = "SYSTEMUSERS ON: the PAM broker did not start: " + error;
            return false;
        }
        ctx->log->info("system users: PAM service {}, homes below {}, uid {} and up", ctx->settings.pam_service,
                       ctx->settings.system_homes, ctx->settings.system_min_uid);
    }
    // Listeners bound, no thread started yet: from here on nothing runs with more than it needs.
    auto report = sandbox::apply(loaded.confinement);
    for (const auto& m : report.missing) ctx->log->warn("sandbox: not applied: {}", m);
    if (report.fatal) {
        ctx->log->error("sandbox: refusing to serve with privileges that could not be dropped");
        error.clear();
        return false;
    }
    std::string applied;
    for (const auto& a : report.applied) applied += (applied.empty() ? "" : ", ") + a;
    ctx->log->info("sandbox: {}", applied);
    for (const auto& ep : srv.explicit_endpoints()) ctx->log->info("listening on {}:{} (explicit TLS / AUTH)", ep.address().to_string(), ep.port());
    for (const auto& ep : srv.implicit_endpoints()) ctx->log->info("listening on {}:{} (implicit TLS)", ep.address().to_string(), ep.port());
    if (on_ready) on_ready(srv);
    srv.run(true);
    return true;
}

}  // namespace ferry::server
