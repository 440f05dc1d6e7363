#pragma once
// Bounds an operation on a socket in time: when the deadline passes, the socket's pending
// operations are cancelled (they then complete with operation_aborted) and fired() is true.
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace ferry::client::detail {

class deadline {
public:
    deadline(asio::ip::tcp::socket& s, std::chrono::steady_clock::duration limit)
        : timer_(s.get_executor()), state_(std::make_shared<state>()) {
        timer_.expires_after(limit);
        timer_.async_wait([st = state_, &s](std::error_code ec) {
            if (ec || !st->alive) return;
            st->fired = true;
            std::error_code ignored;
            s.cancel(ignored);
        });
    }
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
    };
    asio::steady_timer timer_;
    std::shared_ptr<state> state_;
};

inline std::chrono::seconds secs(unsigned s) { return std::chrono::seconds(s); }

}  // namespace ferry::client::detail
