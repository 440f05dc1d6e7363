#include "auth/login_throttle.hpp"

#include <algorithm>

namespace ferry::auth {

login_throttle::clock::duration login_throttle::refused_for(const std::string& host, clock::time_point now,
                                                            unsigned attempts, clock::duration window) const {
    if (attempts == 0) return {};
    std::lock_guard lock(mutex_);
    auto it = failures_.find(host);
    if (it == failures_.end() || it->second.size() < attempts) return {};
    // The last `attempts` failures are kept; the host is free once the oldest leaves the window.
    const auto until = it->second.front() + window;
    return until > now ? until - now : clock::duration{};
}

void login_throttle::record_failure(const std::string& host, clock::time_point now, unsigned attempts,
                                    clock::duration window) {
    if (attempts == 0) return;
    std::lock_guard lock(mutex_);
    if (failures_.size() >= max_hosts_ && !failures_.count(host)) {
        purge_locked(now, window);
        // SECURITY: memory exhaustion by many source addresses: when still full, the host whose
        // latest failure is oldest is forgotten.
        if (failures_.size() >= max_hosts_) {
            auto oldest = std::min_element(failures_.begin(), failures_.end(), [](const auto& a, const auto& b) {
                return a.second.back() < b.second.back();
            });
            failures_.erase(oldest);
        }
    }
    auto& times = failures_[host];
    while (!times.empty() && times.front() + window <= now) times.pop_front();
    times.push_back(now);
    while (times.size() > attempts) times.pop_front();
}

void login_throttle::purge_locked(clock::time_point now, clock::duration window) {
    for (auto it = failures_.begin(); it != failures_.end();) {
        if (it->second.back() + window <= now)
            it = failures_.erase(it);
        else
            ++it;
    }
}

std::size_t login_throttle::hosts() const {
    std::lock_guard lock(mutex_);
    return failures_.size();
}

}  // namespace ferry::auth
