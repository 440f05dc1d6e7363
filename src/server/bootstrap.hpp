#pragma once
// ferryd's start, between its command line and the event loop: the settings become a server
// context (users, certificate map, TLS context) and a sandbox plan, all checked before anything
// is bound; run() then binds, confines the process and serves. ferryd's main only parses its
// arguments, calls these and prints.
#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "sandbox/sandbox.hpp"
#include "server/server_context.hpp"

namespace ferry::server {

class server;

// Why ferryd cannot start, and the exit status that says so.
struct start_error {
    std::string text;     // "file:line: ..." where a statement is at fault
    int exit_status = 2;  // 2: the configuration or command line is wrong; 1: the system refused
};

// Everything ferryd serves with, read and checked; nothing bound yet.
struct loaded_server {
    std::shared_ptr<server_context> context;
    std::vector<std::string> homes;  // the users' home folders, each once, sorted
    sandbox::plan confinement;       // applied by run() once the listeners are bound
};

// What the command line adds to a configuration file.
struct load_options {
    std::string config_file;  // relative names in the statements are relative to its folder
    std::string users_root;   // --root: relative homes in USERS; empty: the USERS file's folder
    std::shared_ptr<spdlog::logger> log;  // the context's log (null: none); warns of insecure settings
};

// From settings read from opts.config_file (with --listen/--tlsport already applied): resolves
// relative file names, refuses files others could change, reads USERS and CERTMAP, resolves
// RUNAS and loads the TLS context. Removes upload temporaries a crashed run left in the homes.
std::optional<loaded_server> load(config::server_settings settings, const load_options& opts, start_error& error);

// RUNAS, ACTIVEDATAPORT and SANDBOX as a plan for the process that serves: resolved before
// anything is bound, so that a wrong RUNAS is an error at once (naming its statement).
std::optional<sandbox::plan> confinement(const config::server_settings& s, const std::vector<std::string>& homes,
                                         start_error& error);

// The "ferryd" logger on stderr; verbose logs every command.
std::shared_ptr<spdlog::logger> make_log(bool verbose);

// Binds every listener, applies the sandbox plan, logs what it listens on, calls on_ready (bound
// and confined, no worker thread yet) and serves until SIGINT or SIGTERM. Returns false when a
// listener cannot be bound (error says which) or privileges could not be dropped (error empty:
// the log said so).
bool run(const loaded_server& loaded, const std::function<void(server&)>& on_ready, std::string& error);

}  // namespace ferry::server
