// LOGINATTEMPTS (issue 10): failures per host across connections and threads. The class did not
// exist before (these tests do not build on the old code, where failed logins were only counted
// per session).
#include "auth/login_throttle.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using ferry::auth::login_throttle;
using namespace std::chrono_literals;

namespace {
const auto t0 = login_throttle::clock::time_point{} + 1000s;
}

TEST(login_throttle, refuses_after_n_failures_until_the_window_has_passed) {
    login_throttle t;
    for (int i = 0; i < 2; ++i) t.record_failure("192.0.2.1", t0 + i * 1s, 3, 60s);
    EXPECT_EQ(t.refused_for("192.0.2.1", t0 + 2s, 3, 60s), 0s);
    t.record_failure("192.0.2.1", t0 + 2s, 3, 60s);
    EXPECT_EQ(t.refused_for("192.0.2.1", t0 + 2s, 3, 60s), 58s);  // the first failure leaves at t0+60
    EXPECT_EQ(t.refused_for("192.0.2.2", t0 + 2s, 3, 60s), 0s);  // other hosts are not affected
    EXPECT_EQ(t.refused_for("192.0.2.1", t0 + 60s, 3, 60s), 0s);
}

TEST(login_throttle, failures_spread_wider_than_the_window_never_refuse) {
    login_throttle t;
    for (int i = 0; i < 10; ++i) {
        t.record_failure("192.0.2.1", t0 + i * 31s, 3, 60s);
        EXPECT_EQ(t.refused_for("192.0.2.1", t0 + i * 31s, 3, 60s), 0s) << i;
    }
}

TEST(login_throttle, zero_attempts_disables_it) {
    login_throttle t;
    for (int i = 0; i < 100; ++i) t.record_failure("192.0.2.1", t0, 0, 60s);
    EXPECT_EQ(t.refused_for("192.0.2.1", t0, 0, 60s), 0s);
    EXPECT_EQ(t.hosts(), 0u);
}

TEST(login_throttle, the_table_is_bounded) {
    login_throttle t(100);
    for (int i = 0; i < 1000; ++i) t.record_failure("h" + std::to_string(i), t0 + i * 1ms, 2, 60s);
    EXPECT_LE(t.hosts(), 100u);
    // The newest hosts are still counted.
    t.record_failure("h999", t0 + 2s, 2, 60s);
    EXPECT_GT(t.refused_for("h999", t0 + 2s, 2, 60s), 0s);
}

TEST(login_throttle, shared_by_threads) {
    login_throttle t;
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            for (int j = 0; j < 1000; ++j) t.record_failure("192.0.2.9", t0, 5, 60s);
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(t.refused_for("192.0.2.9", t0, 5, 60s), 60s);
}
