// MAXSESSIONS, MAXSESSIONSPERHOST, MAXSESSIONSPERUSER and passive port shares (issue 10). The class
// did not exist before: these tests do not build on the old code, which had no such limits.
#include "server/session_limits.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <thread>
#include <vector>

using ferry::server::session_limits;
using ferry::server::session_slot;

TEST(session_limits, total_limit_refuses_with_the_reason_and_frees_on_close) {
    session_limits l;
    std::string why;
    std::vector<session_slot> slots;
    for (int i = 0; i < 3; ++i) {
        slots.push_back(l.admit("192.0.2." + std::to_string(i), 3, 0, why));
        ASSERT_TRUE(slots.back().valid());
    }
    auto refused = l.admit("192.0.2.9", 3, 0, why);
    EXPECT_FALSE(refused.valid());
    EXPECT_NE(why.find("MAXSESSIONS 3"), std::string::npos) << why;
    slots.pop_back();  // a session ends
    EXPECT_EQ(l.total(), 2u);
    EXPECT_TRUE(l.admit("192.0.2.9", 3, 0, why).valid());
    EXPECT_EQ(l.total(), 2u);  // that slot was a temporary
}

TEST(session_limits, per_host_limit_counts_each_host_apart) {
    session_limits l;
    std::string why;
    auto a1 = l.admit("192.0.2.1", 0, 2, why), a2 = l.admit("192.0.2.1", 0, 2, why);
    ASSERT_TRUE(a1.valid() && a2.valid());
    EXPECT_FALSE(l.admit("192.0.2.1", 0, 2, why).valid());
    EXPECT_NE(why.find("MAXSESSIONSPERHOST 2"), std::string::npos) << why;
    EXPECT_TRUE(l.admit("192.0.2.2", 0, 2, why).valid());
    a1 = session_slot();  // closed
    EXPECT_TRUE(l.admit("192.0.2.1", 0, 2, why).valid());
}

TEST(session_limits, per_user_limit_at_login_and_logout) {
    session_limits l;
    std::string why;
    auto s1 = l.admit("h1", 0, 0, why), s2 = l.admit("h2", 0, 0, why), s3 = l.admit("h3", 0, 0, why);
    EXPECT_TRUE(s1.enter_user("alice", 2, why));
    EXPECT_TRUE(s2.enter_user("alice", 2, why));
    EXPECT_FALSE(s3.enter_user("alice", 2, why));
    EXPECT_NE(why.find("MAXSESSIONSPERUSER 2"), std::string::npos) << why;
    EXPECT_TRUE(s3.enter_user("bob", 2, why));
    s1.leave_user();  // REIN
    EXPECT_EQ(l.sessions_of("alice"), 1u);
    s2 = session_slot();  // closed
    EXPECT_EQ(l.sessions_of("alice"), 0u);
    EXPECT_EQ(l.sessions_of("bob"), 1u);
}

TEST(session_limits, one_user_holds_at_most_its_share_of_passive_ports) {
    EXPECT_EQ(session_limits::passive_share(0, 0), 0u);
    EXPECT_EQ(session_limits::passive_share(50000, 50000), 1u);
    EXPECT_EQ(session_limits::passive_share(50000, 50009), 4u);
    EXPECT_EQ(session_limits::passive_share(50000, 50099), 25u);
    session_limits l;
    std::string why;
    std::vector<session_slot> alice;
    for (int i = 0; i < 5; ++i) {
        alice.push_back(l.admit("h", 0, 0, why));
        alice.back().enter_user("alice", 0, why);
    }
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(alice[i].take_passive(4)) << i;
    EXPECT_TRUE(alice[0].take_passive(4));  // a session's one listener is counted once
    EXPECT_FALSE(alice[4].take_passive(4));
    auto bob = l.admit("h", 0, 0, why);
    bob.enter_user("bob", 0, why);
    EXPECT_TRUE(bob.take_passive(4));  // others still get theirs
    alice[0].drop_passive();
    EXPECT_TRUE(alice[4].take_passive(4));
    alice.clear();
    EXPECT_EQ(l.passive_of("alice"), 0u);
}

// METRICS' ferry_passive_ports_in_use: every session's listener, whatever closes it.
TEST(session_limits, passive_in_use_counts_every_listener_held) {
    session_limits l;
    std::string why;
    auto a = l.admit("h", 0, 0, why), b = l.admit("h", 0, 0, why);
    a.enter_user("alice", 0, why);
    b.enter_user("bob", 0, why);
    EXPECT_EQ(l.passive_in_use(), 0u);
    EXPECT_TRUE(a.take_passive(0));
    EXPECT_TRUE(a.take_passive(0));  // still its one listener
    EXPECT_TRUE(b.take_passive(0));
    EXPECT_EQ(l.passive_in_use(), 2u);
    a.drop_passive();
    a.drop_passive();
    EXPECT_EQ(l.passive_in_use(), 1u);
    EXPECT_TRUE(a.take_passive(0));
    a.leave_user();  // REIN
    EXPECT_EQ(l.passive_in_use(), 1u);
    b = session_slot();  // closed
    EXPECT_EQ(l.passive_in_use(), 0u);
}

TEST(session_limits, counts_stay_exact_across_threads) {
    session_limits l;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&l, t] {
            std::string why;
            for (int i = 0; i < 2000; ++i) {
                auto s = l.admit("h" + std::to_string(t % 2), 0, 0, why);
                s.enter_user("alice", 0, why);
                s.take_passive(0);
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(l.total(), 0u);
    EXPECT_EQ(l.sessions_of("alice"), 0u);
    EXPECT_EQ(l.passive_of("alice"), 0u);
    EXPECT_EQ(l.passive_in_use(), 0u);
}
