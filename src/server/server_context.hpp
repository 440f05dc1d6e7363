#pragma once
// What every session of one server shares. Read-only once the server runs, except the TLS
// context, which SIGHUP replaces (renewed certificate) without touching running sessions.
#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "auth/cert_map.hpp"
#include "auth/login_throttle.hpp"
#include "auth/system_users.hpp"
#include "auth/users_file.hpp"
#include "config/settings.hpp"
#include "net/name_cache.hpp"
#include "server/session_limits.hpp"
#include "server/warn_limiter.hpp"
#include "tls/context.hpp"
#include "vfs/root.hpp"

namespace ferry::server {

struct server_context {
    config::server_settings settings;
    auth::users_file users;
    auth::cert_map certs;
    auth::system_users system_users;  // SYSTEMUSERS ON: the PAM broker (started by server::run)
    std::shared_ptr<spdlog::logger> log;
    mutable net::name_cache names;  // PASSIVEADDRESS host names
    // Shared by every event thread; each is thread-safe on its own.
    mutable session_limits limits;        // MAXSESSIONS* and passive port shares
    mutable auth::login_throttle logins;  // LOGINATTEMPTS
    mutable warn_limiter warnings;        // warnings a flood would repeat

    // The home folder of a user, opened once and shared by all of that user's sessions, so an
    // idle session holds one descriptor (its socket), not two. vfs::root is used through *at()
    // calls only, so sharing it between threads is safe.
    // Called on the disk pool (session::log_in).
    std::shared_ptr<const vfs::root> open_home(const std::string& dir, std::error_code& ec) const {
        {
            std::lock_guard lock(homes_mutex_);
            if (auto r = homes_[dir].lock()) return r;
        }
        // Opened without the lock: a home on a hung file system keeps one disk-pool thread
        // waiting, not every other login queued behind the mutex.
        auto r = std::make_shared<const vfs::root>(vfs::root::open(dir, ec));
        if (ec) return nullptr;
        std::lock_guard lock(homes_mutex_);
        auto& slot = homes_[dir];
        if (auto other = slot.lock()) return other;  // another session opened it meanwhile
        slot = r;
        return r;
    }
    // Builds a fresh TLS context from the files named in settings (used at start and on SIGHUP).
    std::function<std::shared_ptr<tls::context>(std::string& error)> make_tls;

    // A session takes the context once and keeps it: its data connections must resume sessions
    // of the same SSL_CTX, so a reload only affects sessions that start after it.
    std::shared_ptr<tls::context> current_tls() const {
        std::lock_guard lock(tls_mutex_);
        return tls_;
    }
    void set_tls(std::shared_ptr<tls::context> t) const {
        std::lock_guard lock(tls_mutex_);
        tls_ = std::move(t);
    }

private:
    mutable std::mutex homes_mutex_;
    mutable std::map<std::string, std::weak_ptr<const vfs::root>> homes_;
    mutable std::mutex tls_mutex_;
    mutable std::shared_ptr<tls::context> tls_;  // null when no KEYRING
};

}  // namespace ferry::server
