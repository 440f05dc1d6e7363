// net::pacer: the waits that keep a transfer to DOWNLOADRATE / UPLOADRATE, on a clock the test
// moves itself.
#include "net/pacer.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using ferry::net::pacer;

namespace {

constexpr std::uint64_t MiB = 1 << 20;

TEST(pacer, pieces_are_an_eighth_of_a_second_at_most) {
    EXPECT_EQ(pacer(MiB).piece(256 * 1024), 128 * 1024u);
    EXPECT_EQ(pacer(100 * MiB).piece(256 * 1024), 256 * 1024u);  // never more than the buffer
    EXPECT_EQ(pacer(1024).piece(256 * 1024), 1024u);              // and never less than 1 KiB
}

TEST(pacer, a_fast_transfer_takes_bytes_over_rate) {
    pacer p(MiB);
    auto now = pacer::clock::time_point{} + 1h;
    pacer::clock::duration total{};
    for (int i = 0; i < 40; ++i) {  // 40 pieces of 128 KiB = 5 MiB, each moved instantly
        const auto wait = p.after(128 * 1024, now);
        total += wait;
        now += wait;
    }
    EXPECT_NEAR(std::chrono::duration<double>(total).count(), 5.0, 0.001);
}

TEST(pacer, a_piece_that_took_its_time_does_not_wait) {
    pacer p(MiB);
    auto now = pacer::clock::time_point{} + 1h;
    EXPECT_EQ(p.after(128 * 1024, now), 125ms);
    now += 125ms;
    EXPECT_EQ(p.after(64 * 1024, now + 62500us), pacer::clock::duration::zero());  // moved at the rate
    EXPECT_EQ(p.after(128 * 1024, now + 62500us), 125ms);  // moved at once: waits its own time
}

TEST(pacer, time_lost_earns_at_most_the_credit) {
    pacer p(MiB);
    auto now = pacer::clock::time_point{} + 1h;
    p.after(128 * 1024, now);
    now += 10s;  // a stalled peer: no burst of ten seconds' worth afterwards
    EXPECT_EQ(p.after(128 * 1024, now), 125ms - pacer::credit);
    EXPECT_EQ(p.after(128 * 1024, now), 250ms - pacer::credit);
}

}  // namespace
