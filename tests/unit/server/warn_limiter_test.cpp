// Issue 10: a full table refuses connections without a log flood. New class: does not build on
// the old code, which logged every failed accept every 100 ms.
#include "server/warn_limiter.hpp"

#include <gtest/gtest.h>

using ferry::server::warn_limiter;
using namespace std::chrono_literals;

TEST(warn_limiter, one_line_per_period_and_kind_with_the_count_held_back) {
    warn_limiter w(10s);
    const auto t0 = warn_limiter::clock::time_point{} + 100s;
    std::size_t held = 99;
    EXPECT_TRUE(w.allow("full", held, t0));
    EXPECT_EQ(held, 0u);
    for (int i = 1; i <= 1000; ++i) EXPECT_FALSE(w.allow("full", held, t0 + i * 5ms));
    EXPECT_TRUE(w.allow("other", held, t0 + 1s));  // kinds are apart
    EXPECT_TRUE(w.allow("full", held, t0 + 10s));
    EXPECT_EQ(held, 1000u);
    EXPECT_FALSE(w.allow("full", held, t0 + 11s));
}
