// ferryd: the Ferry FTPS server. Parses its arguments and prints; loading, checking and serving
// are server::load / server::load_folder and server::run (src/server/bootstrap.hpp).
#include <CLI/CLI.hpp>
#include <csignal>
#include <fmt/core.h>

#include "config/schema.hpp"
#include "config/settings.hpp"
#include "server/bootstrap.hpp"
#include "server/check_config.hpp"
#include "server/firewall_rules.hpp"
#include "server/haproxy_config.hpp"
#include "server/serve_folder.hpp"
#include "server/server.hpp"
#include "server/user_command.hpp"

using namespace ferry;

namespace {

// The exit status of a server that loaded: 0 once it stops, 1 if it could not start.
int run(const server::loaded_server& loaded, const std::function<void(server::server&)>& on_ready) {
    std::string error;
    if (server::run(loaded, on_ready, error)) return 0;
    if (!error.empty()) fmt::print(stderr, "ferryd: {}\n", error);
    return 1;
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

    auto* haproxy_cmd = app.add_subcommand("haproxy-config",
                                           "Print a haproxy.cfg that balances several ferryd nodes behind one address");
    server::haproxy_layout layout;
    std::vector<std::string> haproxy_nodes;
    haproxy_cmd->add_option("--public", layout.public_address, "IPv4 address the clients connect to (PASSIVEADDRESS)")
        ->required();
    haproxy_cmd->add_option("--node", haproxy_nodes, "A node: ADDRESS:LOW-HIGH, its address and passive range (repeatable)")
        ->required();
    haproxy_cmd->add_option("--port", layout.control_port, "Control port (default 21)")->check(CLI::Range(1, 65535));
    haproxy_cmd->add_option("--tls-port", layout.tls_port, "Implicit-TLS port (TLSPORT; default: none)")
        ->check(CLI::Range(0, 65535));

    auto* check_cmd = app.add_subcommand("check-config",
                                         "Read and check FILE (or --config) and the files it names without starting; print "
                                         "the effective settings and every problem (file:line); exit 1 on a problem");
    std::string check_file;
    check_cmd->add_option("FILE", check_file, "Configuration file (default: --config)");
    check_cmd->fallthrough();

    auto* user_cmd = app.add_subcommand("user", "Manage the virtual users file (USERS): add, del, passwd, list");
    user_cmd->require_subcommand(1);
    user_cmd->fallthrough();
    server::user_command_options uo;
    user_cmd->add_option("--users", uo.users_file, "Users file (default: the USERS statement of --config)");
    user_cmd->add_flag("--password-stdin", uo.password_stdin,
                       "Read the password from the first line of standard input even from a terminal");
    auto* user_add = user_cmd->add_subcommand("add", "Add a user (the password is asked for twice, without echo)");
    user_add->add_option("NAME", uo.name, "User name")->required();
    user_add->add_option("-d,--home", uo.home, "Home folder (relative: to the users file's folder)")->required();
    user_add->add_option("-o,--options", uo.options,
                         "What differs for this user, comma-separated: readonly, download=RATE, upload=RATE, "
                         "sha256=FINGERPRINT (the client certificate), from=SUBNET (repeatable)");
    auto* user_del = user_cmd->add_subcommand("del", "Delete a user");
    user_del->add_option("NAME", uo.name, "User name")->required();
    auto* user_passwd = user_cmd->add_subcommand("passwd", "Change a user's password");
    user_passwd->add_option("NAME", uo.name, "User name")->required();
    auto* user_list = user_cmd->add_subcommand("list", "List the users, their home folders and options");
    for (auto* c : {user_add, user_del, user_passwd, user_list}) c->fallthrough();

    CLI11_PARSE(app, argc, argv);

    if (check_cmd->parsed()) {
        const std::string& file = check_file.empty() ? config_file : check_file;
        if (file.empty()) {
            fmt::print(stderr, "ferryd check-config: give the configuration FILE\n");
            return 2;
        }
        auto c = server::check_config(file, root_dir);
        fmt::print("{}", server::format_config_settings(c, file));
        std::fflush(stdout);
        fmt::print(stderr, "{}", server::format_config_problems(c, file));
        return c.ok() ? 0 : 1;
    }
    if (haproxy_cmd->parsed()) {
        std::string error;
        for (const auto& text : haproxy_nodes) {
            auto n = server::parse_haproxy_node(text, error);
            if (!n) break;
            layout.nodes.push_back(*n);
        }
        if (error.empty()) error = server::check_haproxy_layout(layout);
        if (!error.empty()) {
            fmt::print(stderr, "ferryd haproxy-config: {}\n", error);
            return 2;
        }
        fmt::print("{}", server::haproxy_config(layout));
        return 0;
    }
    if (user_cmd->parsed()) {
        uo.action = user_add->parsed() ? "add" : user_del->parsed() ? "del" : user_passwd->parsed() ? "passwd" : "list";
        uo.config_file = config_file;
        return server::run_user_command(uo, stdout, stderr);
    }

    if (help_config) {
        fmt::print("{}", config::describe(config::side::server));
        return 0;
    }
    if (serve_cmd->parsed()) {
        server::start_error failed;
        auto folder = server::load_folder({serve_dir, serve_host, static_cast<std::uint16_t>(serve_port),
                                           static_cast<std::uint16_t>(serve_tls_port), serve_user, serve_runas,
                                           server::make_log(verbose)},
                                          failed);
        if (!folder) {
            fmt::print(stderr, "ferryd serve: {}\n", failed.text);
            return failed.exit_status;
        }
        return run(folder->server, [&](server::server& srv) {
            fmt::print("{}", server::serve_banner(*folder, serve_host, srv));
            std::fflush(stdout);
        });
    }
    if (config_file.empty()) {
        fmt::print(stderr, "ferryd: give --config FILE, or 'ferryd serve [DIR]' to serve a folder at once (see --help)\n");
        return 2;
    }
    config::server_settings s;
    std::string error;
    if (!config::load_server_settings(config_file, s, error)) {
        fmt::print(stderr, "ferryd: {}\n", error);
        return 2;
    }
    if (rules_cmd->parsed()) {
        fmt::print("{}", server::firewall_rules(s, config_file));
        return 0;
    }
    if (!listen.empty()) {
        s.listen.clear();
        for (const auto& l : listen) {
            auto a = config::parse_listen_address(l);
            if (!a) {
                fmt::print(stderr, "ferryd: --listen '{}': expected ADDRESS:PORT\n", l);
                return 2;
            }
            s.listen.push_back(*a);
        }
    }
    if (tls_port >= 0) {
        s.tls_port = static_cast<std::uint16_t>(tls_port);
        s.tls_port_set = true;
    }
    server::start_error failed;
    auto loaded = server::load(std::move(s), {config_file, root_dir, server::make_log(verbose)}, failed);
    if (!loaded) {
        fmt::print(stderr, "ferryd: {}\n", failed.text);
        return failed.exit_status;
    }
    return run(*loaded, nullptr);
}
