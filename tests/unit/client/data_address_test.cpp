#include "client/data_address.hpp"

#include <gtest/gtest.h>

using namespace ferry::client;

TEST(data_address, classify) {
    EXPECT_EQ(classify_address("10.1.2.3"), address_scope::private_);
    EXPECT_EQ(classify_address("172.16.0.1"), address_scope::private_);
    EXPECT_EQ(classify_address("172.31.255.255"), address_scope::private_);
    EXPECT_EQ(classify_address("172.32.0.1"), address_scope::public_);
    EXPECT_EQ(classify_address("192.168.1.1"), address_scope::private_);
    EXPECT_EQ(classify_address("100.64.0.1"), address_scope::private_);
    EXPECT_EQ(classify_address("127.0.0.1"), address_scope::loopback);
    EXPECT_EQ(classify_address("169.254.1.1"), address_scope::link_local);
    EXPECT_EQ(classify_address("0.0.0.0"), address_scope::unspecified);
    EXPECT_EQ(classify_address("203.0.113.5"), address_scope::public_);
    EXPECT_EQ(classify_address("::1"), address_scope::loopback);
    EXPECT_EQ(classify_address("fd00::1"), address_scope::private_);
    EXPECT_EQ(classify_address("fe80::1"), address_scope::link_local);
    EXPECT_EQ(classify_address("2001:db8::1"), address_scope::public_);
    EXPECT_EQ(classify_address("::ffff:10.0.0.1"), address_scope::private_);
    EXPECT_EQ(classify_address("nonsense"), address_scope::invalid);
}

TEST(data_address, same_address_is_used_silently) {
    auto t = choose_pasv_target("198.51.100.7", "198.51.100.7", false);
    EXPECT_EQ(t.host, "198.51.100.7");
    EXPECT_FALSE(t.replaced);
    EXPECT_TRUE(t.warning.empty());
    auto m = choose_pasv_target("::ffff:127.0.0.1", "127.0.0.1", false);
    EXPECT_EQ(m.host, "127.0.0.1");
    EXPECT_FALSE(m.replaced);
}

// The seed's scenario 2: a server behind NAT announces its private address.
TEST(data_address, private_address_from_public_server_is_replaced_with_nat_hint) {
    auto t = choose_pasv_target("203.0.113.10", "192.168.5.20", false);
    EXPECT_EQ(t.host, "203.0.113.10");
    EXPECT_TRUE(t.replaced);
    EXPECT_NE(t.warning.find("private"), std::string::npos);
    EXPECT_NE(t.warning.find("NAT"), std::string::npos);
    EXPECT_NE(t.warning.find("PASSIVEIGNOREADDR"), std::string::npos);
    auto l = choose_pasv_target("203.0.113.10", "127.0.0.1", false);
    EXPECT_EQ(l.host, "203.0.113.10");
    EXPECT_NE(l.warning.find("loopback"), std::string::npos);
}

// SECURITY: a PASV reply naming a third host (bounce / port scan from the client's network).
TEST(data_address, any_other_address_is_replaced) {
    auto t = choose_pasv_target("198.51.100.7", "198.51.100.99", false);
    EXPECT_EQ(t.host, "198.51.100.7");
    EXPECT_TRUE(t.replaced);
    EXPECT_NE(t.warning.find("198.51.100.99"), std::string::npos);
    auto p = choose_pasv_target("10.0.0.1", "10.0.0.2", false);  // both private: still another host
    EXPECT_EQ(p.host, "10.0.0.1");
    EXPECT_FALSE(p.warning.empty());
    auto z = choose_pasv_target("10.0.0.1", "0.0.0.0", false);
    EXPECT_EQ(z.host, "10.0.0.1");
    EXPECT_NE(z.warning.find("unspecified"), std::string::npos);
}

TEST(data_address, passiveignoreaddr_is_silent) {
    auto t = choose_pasv_target("203.0.113.10", "192.168.5.20", true);
    EXPECT_EQ(t.host, "203.0.113.10");
    EXPECT_TRUE(t.replaced);
    EXPECT_TRUE(t.warning.empty());
}
