#pragma once
// What every session of one server shares. Read-only once the server runs, except the TLS
// context, which SIGHUP replaces (renewed certificate) without touching running sessions.
// A SIGHUP that re-reads the configuration makes a new server_context for the sessions that start
// after it; running sessions keep theirs. The counters and limits all of them must see (sessions,
// logins, running transfers) live in one server_shared that every generation points to.
#include <spdlog/logger.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
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
#include "server/file_digests.hpp"
#include "server/metrics.hpp"
#include "server/session_limits.hpp"
#include "server/warn_limiter.hpp"
#include "server/line_log.hpp"
#include "tls/context.hpp"
#include "tls/ticket_keys.hpp"
#include "vfs/root.hpp"

namespace ferry::server {

// Shared by every event thread and every configuration generation; each is thread-safe on its own.
struct server_shared {
    net::name_cache names;           // PASSIVEADDRESS host names
    session_limits limits;           // MAXSESSIONS* and passive port shares
    auth::login_throttle logins;     // LOGINATTEMPTS
    warn_limiter warnings;           // warnings a flood would repeat
    std::atomic<unsigned> transfers{0};  // data transfers running (SHUTDOWNGRACE waits for them)
    std::atomic<std::uint64_t> transfers_begun{0};  // every one started (server::give_back_free_heap)
    auth::system_users system_users;     // SYSTEMUSERS ON: the PAM broker (started by server::run)
    // TLS session-ticket keys outlive a reload that keeps TLSTIMEOUT (tickets still resume).
    std::mutex tickets_mutex;
    std::shared_ptr<tls::ticket_keys> ticket_keys;
    unsigned ticket_keys_timeout = 0;
    std::string ticket_keys_origin;  // TICKETKEYFILE: SHA-256 of the secret (empty: random keys)
    // XFERLOG and JSONLOG: opened again by every (re)load, so SIGHUP follows logrotate; running
    // sessions of every generation write to the current files.
    line_log xferlog;
    line_log jsonlog;
    // METRICS: counted by every session of every generation, read by the endpoint.
    metrics counters;
    // HASH and the X* digests: one answer per unchanged file, for every session and generation.
    digest_cache digests;
};

struct server_context {
    explicit server_context(std::shared_ptr<server_shared> s = std::make_shared<server_shared>())
        : shared(std::move(s)) {}
    server_context(const server_context&) = delete;
    server_context& operator=(const server_context&) = delete;

    const std::shared_ptr<server_shared> shared;
    config::server_settings settings;
    auth::users_file users;
    auth::cert_map certs;
    auth::system_users& system_users = shared->system_users;
    std::shared_ptr<spdlog::logger> log;
    net::name_cache& names = shared->names;
    session_limits& limits = shared->limits;
    auth::login_throttle& logins = shared->logins;
    warn_limiter& warnings = shared->warnings;
    // SIGHUP: the next generation, from the configuration file read again (null: this server has
    // no file to re-read; then SIGHUP renews the TLS context only).
    std::function<std::shared_ptr<server_context>(const server_context& running, std::string& error)> reload;

    // The home folder of a user, opened once and shared by all of that user's sessions, so an
    // idle session holds one descriptor (its socket), not two. vfs::root is used through *at()
    // calls only, so sharing it between threads is safe.
    // Called on the disk pool (session::log_in).
    // A folder removed (or replaced) since it was opened is opened again: a session still holding
    // the removed one must not make a new login write into a folder nobody can see.
    std::shared_ptr<const vfs::root> open_home(const std::string& dir, std::error_code& ec) const {
        struct stat now{};
        const bool here = ::stat(dir.c_str(), &now) == 0;
        auto same = [&](const home_entry& e) { return here && e.dev == now.st_dev && e.ino == now.st_ino; };
        {
            std::lock_guard lock(homes_mutex_);
            const auto& e = homes_[dir];
            if (auto r = e.root.lock(); r && same(e)) return r;
        }
        // Opened without the lock: a home on a hung file system keeps one disk-pool thread
        // waiting, not every other login queued behind the mutex.
        auto r = std::make_shared<const vfs::root>(vfs::root::open(dir, ec));
        if (ec) return nullptr;
        std::lock_guard lock(homes_mutex_);
        auto& slot = homes_[dir];
        if (auto other = slot.root.lock(); other && same(slot)) return other;  // opened meanwhile
        slot = {r, here ? now.st_dev : 0, here ? now.st_ino : 0};
        return r;
    }
    // Builds a fresh TLS context from the files named in settings (used at start and on SIGHUP).
    std::function<std::shared_ptr<tls::context>(std::string& error)> make_tls;

    // A session takes the context once and keeps it: its data connections must resume sessions
    // of the same TLS context, so a reload only affects sessions that start after it.
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
    struct home_entry {
        std::weak_ptr<const vfs::root> root;
        dev_t dev = 0;
        ino_t ino = 0;
    };
    mutable std::map<std::string, home_entry> homes_;
    mutable std::mutex tls_mutex_;
    mutable std::shared_ptr<tls::context> tls_;  // null when no KEYRING
};

}  // namespace ferry::server
