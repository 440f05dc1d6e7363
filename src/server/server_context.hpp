#pragma once
// What every session of one server shares. Read-only once the server runs.
#include <spdlog/logger.h>

#include <memory>

#include "auth/users_file.hpp"
#include "config/settings.hpp"
#include "tls/context.hpp"

namespace ferry::server {

struct server_context {
    config::server_settings settings;
    std::shared_ptr<tls::context> tls;  // null when no KEYRING
    auth::users_file users;
    std::shared_ptr<spdlog::logger> log;
};

}  // namespace ferry::server
