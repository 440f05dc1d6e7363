// net::idle_timer: fires once after `limit` without touch(), never while touched, not after stop().
// Short durations; the assertions are about order and lower bounds, not wall-clock precision.
#include "net/idle_timer.hpp"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ferry::net::idle_timer;
using ferry::net::idle_timer_guard;
using clock_type = std::chrono::steady_clock;

namespace {
constexpr auto deadline = 10s;

// Calls fn every `period` until it returns false.
void every(asio::io_context& ctx, std::chrono::milliseconds period, std::function<bool()> fn) {
    auto t = std::make_shared<asio::steady_timer>(ctx, period);
    auto tick = std::make_shared<std::function<void(const std::error_code&)>>();
    *tick = [t, period, fn, tick](const std::error_code& ec) mutable {
        if (ec || !fn()) {
            *tick = nullptr;  // break the self-reference
            return;
        }
        t->expires_after(period);
        t->async_wait(*tick);
    };
    t->async_wait(*tick);
}

void after(asio::io_context& ctx, std::chrono::milliseconds d, std::function<void()> fn) {
    auto t = std::make_shared<asio::steady_timer>(ctx, d);
    t->async_wait([t, fn](const std::error_code& ec) {
        if (!ec) fn();
    });
}
}  // namespace

TEST(idle_timer, fires_once_after_inactivity) {
    asio::io_context ctx;
    int calls = 0;
    const auto start = clock_type::now();
    clock_type::time_point fired_at{};
    auto t = idle_timer::start(ctx.get_executor(), 50ms, [&] {
        ++calls;
        fired_at = clock_type::now();
    });
    EXPECT_FALSE(t->fired());
    // Keep the io_context busy well past the first expiry, to see that it does not fire again.
    bool watched = false;
    after(ctx, 400ms, [&] { watched = true; });
    ctx.run_for(deadline);
    EXPECT_TRUE(watched);
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(t->fired());
    EXPECT_GE(fired_at - start, 50ms);
}

TEST(idle_timer, does_not_fire_while_touched) {
    asio::io_context ctx;
    std::vector<std::string> events;
    clock_type::time_point last_touch{}, fired_at{};
    auto t = idle_timer::start(ctx.get_executor(), 200ms, [&] {
        events.push_back("idle");
        fired_at = clock_type::now();
    });
    // Activity every 10 ms for 600 ms (three times the limit), then silence.
    int touches = 0;
    bool fired_while_touching = false;
    every(ctx, 10ms, [&] {
        if (t->fired()) fired_while_touching = true;
        if (++touches > 60) {
            events.push_back("activity ended");
            return false;
        }
        t->touch();
        last_touch = clock_type::now();
        return true;
    });
    ctx.run_for(deadline);
    EXPECT_FALSE(fired_while_touching);
    EXPECT_EQ(events, (std::vector<std::string>{"activity ended", "idle"}));
    EXPECT_TRUE(t->fired());
    EXPECT_GE(fired_at - last_touch, 200ms);
}

TEST(idle_timer, stop_prevents_firing) {
    asio::io_context ctx;
    int calls = 0;
    auto t = idle_timer::start(ctx.get_executor(), 50ms, [&] { ++calls; });
    t->stop();
    bool watched = false;
    after(ctx, 200ms, [&] { watched = true; });
    ctx.run_for(deadline);
    EXPECT_TRUE(watched);
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(t->fired());
}

TEST(idle_timer, stop_after_some_activity) {
    asio::io_context ctx;
    int calls = 0;
    auto t = idle_timer::start(ctx.get_executor(), 100ms, [&] { ++calls; });
    after(ctx, 30ms, [&] { t->touch(); });
    after(ctx, 60ms, [&] { t->stop(); });
    bool watched = false;
    after(ctx, 400ms, [&] { watched = true; });
    ctx.run_for(deadline);
    EXPECT_TRUE(watched);
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(t->fired());
}

TEST(idle_timer, guard_stops_it_at_scope_end) {
    asio::io_context ctx;
    int calls = 0;
    {
        idle_timer_guard g{idle_timer::start(ctx.get_executor(), 50ms, [&] { ++calls; })};
        ASSERT_TRUE(g.t);
    }
    bool watched = false;
    after(ctx, 200ms, [&] { watched = true; });
    ctx.run_for(deadline);
    EXPECT_TRUE(watched);
    EXPECT_EQ(calls, 0);
}

TEST(idle_timer, keeps_itself_alive_when_the_caller_drops_it) {
    asio::io_context ctx;
    int calls = 0;
    idle_timer::start(ctx.get_executor(), 30ms, [&] { ++calls; });  // shared_ptr dropped at once
    ctx.run_for(deadline);  // returns when the timer is done: no other work
    EXPECT_EQ(calls, 1);
}

TEST(idle_timer, set_limit_extends_the_wait) {
    asio::io_context ctx;
    const auto start = clock_type::now();
    clock_type::time_point fired_at{};
    int calls = 0;
    auto t = idle_timer::start(ctx.get_executor(), 30ms, [&] {
        ++calls;
        fired_at = clock_type::now();
    });
    t->set_limit(300ms);  // before the first expiry: the timer re-arms instead of firing
    std::vector<std::string> events;
    after(ctx, 150ms, [&] { events.push_back(t->fired() ? "fired by 150ms" : "not fired at 150ms"); });
    ctx.run_for(deadline);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(events, (std::vector<std::string>{"not fired at 150ms"}));
    EXPECT_GE(fired_at - start, 300ms);
}

TEST(idle_timer, touch_postpones_by_a_full_limit) {
    asio::io_context ctx;
    std::vector<std::string> events;
    auto t = idle_timer::start(ctx.get_executor(), 150ms, [&] { events.push_back("idle"); });
    // A single touch at 100 ms moves the expiry to >= 250 ms.
    after(ctx, 100ms, [&] {
        t->touch();
        events.push_back("touch");
    });
    after(ctx, 200ms, [&] { events.push_back(t->fired() ? "fired at 200ms" : "quiet at 200ms"); });
    ctx.run_for(deadline);
    EXPECT_EQ(events, (std::vector<std::string>{"touch", "quiet at 200ms", "idle"}));
}

TEST(idle_timer, busy_check_postpones_firing_until_not_busy) {
    // The control connection's idle limit does not end a session while its transfer runs.
    asio::io_context ctx;
    std::vector<std::string> events;
    bool busy = true;
    int busy_checks = 0;
    clock_type::time_point not_busy_at{}, fired_at{};
    auto t = idle_timer::start(ctx.get_executor(), 50ms, [&] {
        events.push_back("idle");
        fired_at = clock_type::now();
    });
    t->set_busy_check([&] {
        ++busy_checks;
        return busy;
    });
    after(ctx, 300ms, [&] {
        events.push_back(t->fired() ? "fired while busy" : "transfer ended");
        busy = false;
        not_busy_at = clock_type::now();
    });
    ctx.run_for(deadline);
    EXPECT_EQ(events, (std::vector<std::string>{"transfer ended", "idle"}));
    EXPECT_GE(busy_checks, 2);  // asked at each expiry while busy, and once more at the end
    // While busy, each expiry counts as activity; the timer fires at the first expiry after the
    // busy spell (measured from the last busy check, not from its end).
    EXPECT_GE(fired_at, not_busy_at);
    EXPECT_TRUE(t->fired());
}

TEST(idle_timer, busy_check_is_not_asked_while_touched) {
    asio::io_context ctx;
    int busy_checks = 0, calls = 0;
    auto t = idle_timer::start(ctx.get_executor(), 200ms, [&] { ++calls; });
    t->set_busy_check([&] {
        ++busy_checks;
        return false;
    });
    int touches = 0;
    every(ctx, 10ms, [&] {
        if (++touches > 30) return false;
        t->touch();
        return true;
    });
    bool checked = false;
    after(ctx, 250ms, [&] {
        checked = true;
        EXPECT_EQ(busy_checks, 0);  // never idle so far
        EXPECT_EQ(calls, 0);
    });
    ctx.run_for(deadline);
    EXPECT_TRUE(checked);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(busy_checks, 1);  // once, when the limit finally passed
}

// Issue 10: a closing session's drain is bounded by a short limit that applies at once.
// restart() did not exist before (does not build on the old code).
TEST(idle_timer_restart, a_shorter_limit_applies_at_once) {
    asio::io_context io;
    bool fired = false;
    auto t = ferry::net::idle_timer::start(io.get_executor(), std::chrono::hours(1), [&] { fired = true; });
    t->restart(std::chrono::milliseconds(20));
    io.run_for(std::chrono::seconds(5));
    EXPECT_TRUE(fired);
}
