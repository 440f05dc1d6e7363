#include "server/bootstrap.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <unistd.h>

#include <filesystem>
#include <set>
#include <tuple>

#include "server/server.hpp"
#include "server/startup.hpp"
#include "server/tls_setup.hpp"
#include "vfs/root.hpp"

namespace fs = std::filesystem;

namespace ferry::server {

std::optional<loaded_server> load(config::server_settings settings, const load_options& opts, start_error& error) {
    error.exit_status = 2;
    auto& s = settings;
    const bool system_users = !s.system_users.value.empty();
    if (s.users.empty() && !system_users) {
        error.text = opts.config_file + ": no USERS statement (and SYSTEMUSERS OFF): nobody could log in";
        return std::nullopt;
    }
    if (system_users) {
        // SECURITY: a system user's files are reached with the user's own rights, which takes
        // CAP_SETUID and CAP_SETGID: only with seccomp narrowing them, and only from root.
        if (!s.sandbox) {
            error.text = s.system_users.where + ": SYSTEMUSERS ON needs SANDBOX ON";
            return std::nullopt;
        }
        if (::geteuid() != 0) {
            error.text = s.system_users.where + ": SYSTEMUSERS ON needs ferryd started as root (PAM reads the "
                                                "shadow passwords, and sessions take each user's rights)";
            return std::nullopt;
        }
    }
    // Relative names in the config are relative to the config file's folder.
    fs::path base = fs::absolute(opts.config_file).parent_path();
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
        if (auto why = check_trusted_file(path, what, ours)) {
            error.text = *why;
            return std::nullopt;
        }
    }
    auto ctx = std::make_shared<server_context>();
    ctx->settings = std::move(settings);
    const auto& cs = ctx->settings;
    if (!cs.certmap.empty() && !ctx->certs.load(cs.certmap, error.text)) return std::nullopt;
    std::string root = opts.users_root.empty() ? fs::path(cs.users).parent_path().string() : opts.users_root;
    if (!cs.users.empty() && !ctx->users.load(cs.users, root, error.text)) return std::nullopt;
    std::set<std::string> homes;
    for (const auto& u : ctx->users.all()) homes.insert(u.home);
    loaded_server out{ctx, {homes.begin(), homes.end()}, {}};
    auto plan = confinement(cs, out.homes, error);
    if (!plan) return std::nullopt;
    out.confinement = std::move(*plan);
    if (!load_tls(*ctx, error.text)) return std::nullopt;
    ctx->log = opts.log ? opts.log : std::make_shared<spdlog::logger>("ferryd");  // no sink: logs nowhere
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
