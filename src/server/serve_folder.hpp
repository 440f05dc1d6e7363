#pragma once
// `ferryd serve DIR`: one folder served at once, safely, with no configuration file: a
// self-signed certificate kept in ferryd's state folder, one user with a fresh random password,
// TLS required for login and data.
#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "server/bootstrap.hpp"

namespace ferry::server {

struct folder_request {
    std::string dir = ".";
    std::string listen_host = "0.0.0.0";
    std::uint16_t port = 2121;      // explicit TLS (AUTH TLS)
    std::uint16_t tls_port = 2990;  // implicit TLS; 0: none
    std::string user = "ferry";
    std::string run_as;  // started as root: empty means the folder's owner (root's folder: refused)
    std::shared_ptr<spdlog::logger> log;  // the context's log (null: none)
};

struct served_folder {
    loaded_server server;
    std::string dir;          // the folder, canonical
    std::string certificate;  // the PEM file with the certificate and its key
    std::string user, password;
};

// The state folder comes from FERRYD_STATE_DIR, else XDG_STATE_HOME/ferryd, else
// ~/.local/state/ferryd, else a fresh private folder in /tmp; the certificate is made there on
// first use (its names: localhost, the host name, the listen address).
std::optional<served_folder> load_folder(const folder_request& r, start_error& error);

class server;
// What `ferryd serve` prints once its listeners are bound: the address, user, password,
// certificate and fingerprint, and how to connect with ferry, curl, lftp and FileZilla.
std::string serve_banner(const served_folder& f, const std::string& listen_host, const server& srv);

}  // namespace ferry::server
