#pragma once
// Rate limit for warnings a flood would repeat (refused connections, a full descriptor table):
// one line per kind per period, saying how many were held back. Thread-safe.
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace ferry::server {

class warn_limiter {
public:
    using clock = std::chrono::steady_clock;
    explicit warn_limiter(clock::duration period = std::chrono::seconds(10)) : period_(period) {}
    // True when a warning of this kind may be logged now; suppressed is then how many of this
    // kind were held back since the last one logged.
    bool allow(const std::string& kind, std::size_t& suppressed, clock::time_point now = clock::now()) {
        std::lock_guard lock(mutex_);
        auto& k = kinds_[kind];
        if (k.logged && now - *k.logged < period_) {
            ++k.held;
            return false;
        }
        k.logged = now;
        suppressed = std::exchange(k.held, 0);
        return true;
    }

private:
    struct state {
        std::optional<clock::time_point> logged;
        std::size_t held = 0;
    };
    std::mutex mutex_;
    std::map<std::string, state> kinds_;
    clock::duration period_;
};

}  // namespace ferry::server
