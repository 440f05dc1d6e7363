#pragma once
// Fires a callback once when nothing happened for `limit`. touch() is cheap (a clock read), so it
// can be called for every chunk of a transfer instead of re-arming a timer per operation.
// An optional busy check postpones firing while it returns true (the wait starts again).
#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace ferry::net {

class idle_timer : public std::enable_shared_from_this<idle_timer> {
public:
    using clock = std::chrono::steady_clock;
    static std::shared_ptr<idle_timer> start(asio::any_io_executor ex, clock::duration limit,
                                             std::function<void()> on_idle);
    void touch() { last_ = clock::now(); }
    void set_limit(clock::duration limit) { limit_ = limit; }
    // A new limit counted from now, taking effect at once (set_limit waits for the next check).
    void restart(clock::duration limit);
    void set_busy_check(std::function<bool()> busy) { busy_ = std::move(busy); }
    void stop();
    bool fired() const { return fired_; }

    idle_timer(asio::any_io_executor ex, clock::duration limit, std::function<void()> on_idle)
        : timer_(ex), limit_(limit), on_idle_(std::move(on_idle)), last_(clock::now()) {}

private:
    void arm();
    asio::steady_timer timer_;
    clock::duration limit_;
    std::function<void()> on_idle_;
    std::function<bool()> busy_;
    clock::time_point last_;
    bool stopped_ = false;
    bool fired_ = false;
};

// Stops the timer when the scope ends.
struct idle_timer_guard {
    std::shared_ptr<idle_timer> t;
    ~idle_timer_guard() {
        if (t) t->stop();
    }
};

}  // namespace ferry::net
