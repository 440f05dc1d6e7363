// Address rules for data connections (net/address_policy.hpp): pure functions, no sockets.
#include "net/address_policy.hpp"

#include <gtest/gtest.h>

using ferry::net::check_active_target;
using ferry::net::same_host;
using ferry::net::unmapped;
using ferry::net::host_key;
using asio::ip::make_address;

namespace {
const std::string bounce = "Illegal PORT command: the data address must be your own (";
const std::string low_port = "Illegal PORT command: data ports below 1024 are not allowed";
const std::string port_zero = "Illegal PORT command: port 0";
}  // namespace

TEST(unmapped, v4_mapped_v6_becomes_v4) {
    auto a = unmapped(make_address("::ffff:192.0.2.1"));
    EXPECT_TRUE(a.is_v4());
    EXPECT_EQ(a, make_address("192.0.2.1"));
    EXPECT_EQ(a.to_string(), "192.0.2.1");
}

TEST(unmapped, other_addresses_are_unchanged) {
    for (const char* s : {"192.0.2.1", "127.0.0.1", "0.0.0.0", "::1", "::", "2001:db8::1", "fe80::1",
                          "::192.0.2.1" /* v4-compatible, not mapped */, "64:ff9b::c000:201" /* NAT64 */}) {
        auto a = make_address(s);
        auto u = unmapped(a);
        EXPECT_EQ(u, a) << s;
        EXPECT_EQ(u.is_v6(), a.is_v6()) << s;
    }
}

TEST(same_host, compares_mapped_and_plain_v4_alike) {
    EXPECT_TRUE(same_host(make_address("192.0.2.1"), make_address("192.0.2.1")));
    EXPECT_TRUE(same_host(make_address("::ffff:192.0.2.1"), make_address("192.0.2.1")));
    EXPECT_TRUE(same_host(make_address("192.0.2.1"), make_address("::ffff:192.0.2.1")));
    EXPECT_TRUE(same_host(make_address("::ffff:192.0.2.1"), make_address("::ffff:192.0.2.1")));
    EXPECT_TRUE(same_host(make_address("2001:db8::1"), make_address("2001:db8:0:0::1")));
}

TEST(same_host, different_hosts) {
    EXPECT_FALSE(same_host(make_address("192.0.2.1"), make_address("192.0.2.2")));
    EXPECT_FALSE(same_host(make_address("::ffff:192.0.2.1"), make_address("192.0.2.2")));
    EXPECT_FALSE(same_host(make_address("127.0.0.1"), make_address("::1")));  // loopbacks of two families
    EXPECT_FALSE(same_host(make_address("::192.0.2.1"), make_address("192.0.2.1")));  // not a mapped address
    EXPECT_FALSE(same_host(make_address("2001:db8::1"), make_address("2001:db8::2")));
}

// SECURITY: FTP bounce (RFC 2577): by default PORT/EPRT may only name the control client.
TEST(check_active_target, bounce_to_another_address_is_refused) {
    auto peer = make_address("192.0.2.1");
    EXPECT_EQ(check_active_target(peer, make_address("198.51.100.7"), 2000, false, false), bounce + "192.0.2.1)");
    // Even with low ports allowed: the address check is separate.
    EXPECT_EQ(check_active_target(peer, make_address("198.51.100.7"), 2000, false, true), bounce + "192.0.2.1)");
    // The address check comes first when both rules are broken.
    EXPECT_EQ(check_active_target(peer, make_address("198.51.100.7"), 25, false, false), bounce + "192.0.2.1)");
    // An IPv6 target for an IPv4 client, and loopback of the server itself, are other hosts too.
    EXPECT_EQ(check_active_target(peer, make_address("::1"), 2000, false, false), bounce + "192.0.2.1)");
    EXPECT_EQ(check_active_target(peer, make_address("127.0.0.1"), 2000, false, false), bounce + "192.0.2.1)");
}

TEST(check_active_target, bounce_message_shows_the_unmapped_client_address) {
    auto peer = make_address("::ffff:192.0.2.1");  // client seen by a dual-stack listener
    EXPECT_EQ(check_active_target(peer, make_address("10.0.0.1"), 2000, false, false), bounce + "192.0.2.1)");
    auto peer6 = make_address("2001:db8::5");
    EXPECT_EQ(check_active_target(peer6, make_address("2001:db8::6"), 2000, false, false), bounce + "2001:db8::5)");
}

TEST(check_active_target, own_address_is_allowed) {
    auto peer = make_address("192.0.2.1");
    EXPECT_EQ(check_active_target(peer, make_address("192.0.2.1"), 1024, false, false), "");
    EXPECT_EQ(check_active_target(peer, make_address("192.0.2.1"), 65535, false, false), "");
    // The client seen through a dual-stack listener names itself in IPv4 (PORT) form.
    EXPECT_EQ(check_active_target(make_address("::ffff:192.0.2.1"), make_address("192.0.2.1"), 5000, false, false),
              "");
    EXPECT_EQ(check_active_target(make_address("2001:db8::5"), make_address("2001:db8::5"), 5000, false, false), "");
}

TEST(check_active_target, low_port_is_refused) {
    auto peer = make_address("192.0.2.1");
    for (std::uint16_t p : {1, 20, 21, 22, 25, 80, 443, 1023})
        EXPECT_EQ(check_active_target(peer, peer, p, false, false), low_port) << p;
    // Also when any address is allowed.
    EXPECT_EQ(check_active_target(peer, make_address("198.51.100.7"), 25, true, false), low_port);
    // Port 0 is below 1024 too.
    EXPECT_EQ(check_active_target(peer, peer, 0, false, false), low_port);
}

TEST(check_active_target, unrestricted_address_allows_other_hosts) {
    auto peer = make_address("192.0.2.1");
    EXPECT_EQ(check_active_target(peer, make_address("198.51.100.7"), 2000, true, false), "");
    EXPECT_EQ(check_active_target(peer, make_address("2001:db8::9"), 2000, true, false), "");
}

TEST(check_active_target, unrestricted_ports_allow_low_ports_but_never_port_zero) {
    auto peer = make_address("192.0.2.1");
    EXPECT_EQ(check_active_target(peer, peer, 20, false, true), "");
    EXPECT_EQ(check_active_target(peer, peer, 1, false, true), "");
    EXPECT_EQ(check_active_target(peer, peer, 1023, false, true), "");
    EXPECT_EQ(check_active_target(peer, peer, 0, false, true), port_zero);
    EXPECT_EQ(check_active_target(peer, make_address("198.51.100.7"), 0, true, true), port_zero);
}

TEST(check_active_target, both_options_allow_anything_but_port_zero) {
    auto peer = make_address("192.0.2.1");
    EXPECT_EQ(check_active_target(peer, make_address("198.51.100.7"), 25, true, true), "");
    EXPECT_EQ(check_active_target(peer, make_address("::1"), 1, true, true), "");
}

// ---------------------------------------------------------------------------------------------
// in_subnet, choose_passive_address (PASSIVEADDRESS ... FOR cidr)

using ferry::net::choose_passive_address;
using ferry::net::in_subnet;

TEST(in_subnet, ipv4_prefixes) {
    EXPECT_TRUE(in_subnet(make_address("192.168.4.7"), "192.168.0.0/16"));
    EXPECT_TRUE(in_subnet(make_address("192.168.255.255"), "192.168.0.0/16"));
    EXPECT_FALSE(in_subnet(make_address("192.169.0.1"), "192.168.0.0/16"));
    EXPECT_TRUE(in_subnet(make_address("10.1.2.3"), "10.0.0.0/8"));
    EXPECT_FALSE(in_subnet(make_address("11.0.0.0"), "10.0.0.0/8"));
    // A prefix that is not a byte boundary.
    EXPECT_TRUE(in_subnet(make_address("172.31.255.1"), "172.16.0.0/12"));
    EXPECT_FALSE(in_subnet(make_address("172.32.0.1"), "172.16.0.0/12"));
    // /32 is one host, /0 is everyone.
    EXPECT_TRUE(in_subnet(make_address("203.0.113.9"), "203.0.113.9/32"));
    EXPECT_FALSE(in_subnet(make_address("203.0.113.8"), "203.0.113.9/32"));
    EXPECT_TRUE(in_subnet(make_address("198.51.100.1"), "0.0.0.0/0"));
}

TEST(in_subnet, v4_mapped_client_counts_as_ipv4) {
    EXPECT_TRUE(in_subnet(make_address("::ffff:192.168.1.1"), "192.168.0.0/16"));
    EXPECT_FALSE(in_subnet(make_address("::ffff:10.0.0.1"), "192.168.0.0/16"));
}

TEST(in_subnet, ipv6_prefixes) {
    EXPECT_TRUE(in_subnet(make_address("2001:db8:1::5"), "2001:db8::/32"));
    EXPECT_FALSE(in_subnet(make_address("2001:db9::5"), "2001:db8::/32"));
    EXPECT_TRUE(in_subnet(make_address("fd00::1"), "fc00::/7"));
    EXPECT_TRUE(in_subnet(make_address("::1"), "::1/128"));
    EXPECT_FALSE(in_subnet(make_address("::2"), "::1/128"));
}

TEST(in_subnet, families_never_mix) {
    EXPECT_FALSE(in_subnet(make_address("192.168.1.1"), "::/0"));
    EXPECT_FALSE(in_subnet(make_address("2001:db8::1"), "0.0.0.0/0"));
}

TEST(in_subnet, bad_text_matches_nothing) {
    const auto a = make_address("192.168.1.1");
    for (const char* cidr : {"", "192.168.0.0", "192.168.0.0/", "/16", "lan/16", "192.168.0.0/x", "192.168.0.0/33",
                             "192.168.0.0/99999999999999999999999", "192.168.0.0/-1"})
        EXPECT_FALSE(in_subnet(a, cidr)) << cidr;
    EXPECT_FALSE(in_subnet(make_address("2001:db8::1"), "2001:db8::/129"));
}

namespace {
struct pa {
    std::string address;
    std::string cidr;
};
}  // namespace

TEST(choose_passive_address, subnet_entries_first_then_the_default) {
    const std::vector<pa> entries = {
        {"203.0.113.5", ""},                // everyone else (written first, still the fallback)
        {"192.168.0.1", "192.168.0.0/16"},  // LAN clients get the inside address
        {"10.9.9.9", "10.0.0.0/8"},
    };
    EXPECT_EQ(choose_passive_address(entries, make_address("192.168.3.3")), "192.168.0.1");
    EXPECT_EQ(choose_passive_address(entries, make_address("::ffff:192.168.3.3")), "192.168.0.1");
    EXPECT_EQ(choose_passive_address(entries, make_address("10.1.1.1")), "10.9.9.9");
    EXPECT_EQ(choose_passive_address(entries, make_address("198.51.100.7")), "203.0.113.5");
    EXPECT_EQ(choose_passive_address(entries, make_address("2001:db8::1")), "203.0.113.5");
}

TEST(choose_passive_address, first_matching_subnet_wins) {
    const std::vector<pa> entries = {{"192.168.1.1", "192.168.1.0/24"}, {"192.168.0.1", "192.168.0.0/16"}};
    EXPECT_EQ(choose_passive_address(entries, make_address("192.168.1.50")), "192.168.1.1");
    EXPECT_EQ(choose_passive_address(entries, make_address("192.168.2.50")), "192.168.0.1");
}

TEST(choose_passive_address, nothing_applies) {
    EXPECT_EQ(choose_passive_address(std::vector<pa>{}, make_address("192.0.2.1")), "");
    const std::vector<pa> only_lan = {{"192.168.0.1", "192.168.0.0/16"}};
    EXPECT_EQ(choose_passive_address(only_lan, make_address("198.51.100.7")), "");
    // A host name is passed through as text (resolved later by name_cache).
    const std::vector<pa> named = {{"ftp.example.net", ""}};
    EXPECT_EQ(choose_passive_address(named, make_address("198.51.100.7")), "ftp.example.net");
}

// Per-host limits (issue 10) count an IPv4 address, or an IPv6 /64.
TEST(host_key, ipv4_alone_ipv6_by_its_64) {
    EXPECT_EQ(host_key(make_address("192.0.2.7")), "192.0.2.7");
    EXPECT_EQ(host_key(make_address("::ffff:192.0.2.7")), "192.0.2.7");
    EXPECT_EQ(host_key(make_address("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), "2001:db8:1:2::/64");
    EXPECT_EQ(host_key(make_address("2001:db8:1:2::1")), host_key(make_address("2001:db8:1:2:ffff::9")));
    EXPECT_NE(host_key(make_address("2001:db8:1:2::1")), host_key(make_address("2001:db8:1:3::1")));
}
