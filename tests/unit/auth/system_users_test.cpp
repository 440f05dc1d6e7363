// The PAM broker's answers as ferryd reads them: an account round-trips, and anything malformed,
// late (another question's id) or a refusal yields no account.
#include <gtest/gtest.h>

#include "auth/system_users.hpp"

using namespace ferry::auth;

TEST(SystemUsers, AnAccountRoundTrips) {
    system_account a{"alice", 1001, 1002, {1002, 27, 100}, "/home/alice"};
    std::string why;
    auto b = decode_account(encode_account(7, a), 7, why);
    ASSERT_TRUE(b) << why;
    EXPECT_EQ(b->name, "alice");
    EXPECT_EQ(b->uid, 1001u);
    EXPECT_EQ(b->gid, 1002u);
    EXPECT_EQ(b->groups, (std::vector<gid_t>{1002, 27, 100}));
    EXPECT_EQ(b->home, "/home/alice");
}

TEST(SystemUsers, RefusalsAndMalformedAnswersGiveNoAccount) {
    std::string why;
    EXPECT_FALSE(decode_account("3\nNO\nPAM: Authentication failure\n", 3, why));
    EXPECT_EQ(why, "PAM: Authentication failure");
    system_account a{"bob", 1003, 1003, {}, "/home/bob"};
    EXPECT_FALSE(decode_account(encode_account(2, a), 3, why));  // another question's answer
    for (const char* bad : {"", "3\n", "3\nOK\n", "3\nOK\nbob\nx\n1\n/h\n\n", "3\nOK\nbob\n1\n1\nrelative\n\n",
                            "3\nOK\nbob\n1\n1\n/h\n1 x\n", "3\nOK\nbob\n1\n1\n/h\n1", "3\nMAYBE\nbob\n"}) {
        why.clear();
        EXPECT_FALSE(decode_account(bad, 3, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}

TEST(SystemUsers, WithoutABrokerNobodyIsAccepted) {
    system_users none;
    std::string why;
    EXPECT_FALSE(none.authenticate("root", "x", "127.0.0.1", why));
    EXPECT_EQ(why, "system users are off");
}
