#pragma once
// Bounds an operation in time: when the deadline passes, on_fire runs (it cancels or closes the
// socket or listener the operation waits on, which then completes with an error) and fired() is
// true. Destroying the deadline disarms it.
#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace ferry::net {

class deadline {
public:
    deadline(asio::any_io_executor ex, std::chrono::steady_clock::duration limit, std::function<void()> on_fire)
        : timer_(ex), state_(std::make_shared<state>()) {
        state_->on_fire = std::move(on_fire);
        timer_.expires_after(limit);
        timer_.async_wait([st = state_](std::error_code ec) {
            if (ec || !st->alive) return;
            st->fired = true;
            st->on_fire();
        });
    }
    // The common case: cancel the socket's pending operations.
    deadline(asio::ip::tcp::socket& s, std::chrono::steady_clock::duration limit)
        : deadline(s.get_executor(), limit, [&s] {
              std::error_code ignored;
              s.cancel(ignored);
          }) {}
    ~deadline() {
        state_->alive = false;
        timer_.cancel();
    }
    deadline(const deadline&) = delete;
    deadline& operator=(const deadline&) = delete;
    bool fired() const { return state_->fired; }

private:
    struct state {
        bool alive = true;
        bool fired = false;
        std::function<void()> on_fire;
    };
    asio::steady_timer timer_;
    std::shared_ptr<state> state_;
};

}  // namespace ferry::net
