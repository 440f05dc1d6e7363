#pragma once
// LOGINATTEMPTS: failed logins counted per client host across connections and event threads.
// After `attempts` failures within `window`, the host is refused until the oldest of them is
// `window` old. Thread-safe (one mutex; touched once per failed login or new connection).
// Memory is bounded: each host keeps at most `attempts` times, and the table at most max_hosts.
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ferry::auth {

class login_throttle {
public:
    using clock = std::chrono::steady_clock;
    explicit login_throttle(std::size_t max_hosts = 100000) : max_hosts_(max_hosts) {}

    // When host is refused at `now`, how long it remains so; zero when it is not refused.
    clock::duration refused_for(const std::string& host, clock::time_point now, unsigned attempts,
                                clock::duration window) const;
    void record_failure(const std::string& host, clock::time_point now, unsigned attempts, clock::duration window);
    std::size_t hosts() const;

private:
    void purge_locked(clock::time_point now, clock::duration window);

    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::deque<clock::time_point>> failures_;  // oldest first
    std::size_t max_hosts_;
};

}  // namespace ferry::auth
