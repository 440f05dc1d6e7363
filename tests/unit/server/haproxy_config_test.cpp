// `ferryd haproxy-config` (issue 15): node syntax, layout checks, and the configuration's shape.
// The netns test (tests/netns/test_scale_out.py) runs HAProxy on what it prints.
#include "server/haproxy_config.hpp"

#include <gtest/gtest.h>

namespace {

using namespace ferry::server;

TEST(HaproxyConfig, NodeSyntax) {
    std::string error;
    auto n = parse_haproxy_node("10.0.1.2:50000-50099", error);
    ASSERT_TRUE(n) << error;
    EXPECT_EQ(n->address, "10.0.1.2");
    EXPECT_EQ(n->passive_low, 50000);
    EXPECT_EQ(n->passive_high, 50099);
    for (const char* bad : {"10.0.1.2", "10.0.1.2:50000", "10.0.1.2:50099-50000", "node1:1-2", "10.0.1.2:0-5",
                            "10.0.1.2:1-70000", "2001:db8::1:1-2", "10.0.1.2:1x-2"}) {
        error.clear();
        EXPECT_FALSE(parse_haproxy_node(bad, error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
}

TEST(HaproxyConfig, LayoutChecks) {
    haproxy_layout l{"203.0.113.1", {{"10.0.1.2", 50000, 50099}, {"10.0.2.2", 50100, 50199}}, 21, 990};
    EXPECT_EQ(check_haproxy_layout(l), "");
    auto overlap = l;
    overlap.nodes[1].passive_low = 50099;
    EXPECT_NE(check_haproxy_layout(overlap).find("overlap"), std::string::npos);
    auto twice = l;
    twice.nodes[1].address = "10.0.1.2";
    EXPECT_NE(check_haproxy_layout(twice).find("twice"), std::string::npos);
    auto holds = l;
    holds.nodes[0] = {"10.0.1.2", 900, 1000};
    EXPECT_NE(check_haproxy_layout(holds).find("control port 990"), std::string::npos);
    auto v6 = l;
    v6.public_address = "2001:db8::1";
    EXPECT_NE(check_haproxy_layout(v6).find("IPv4"), std::string::npos);
    auto none = l;
    none.nodes.clear();
    EXPECT_FALSE(check_haproxy_layout(none).empty());
}

TEST(HaproxyConfig, ControlBalancedPassiveRangesToTheirOwnNode) {
    haproxy_layout l{"203.0.113.1", {{"10.0.1.2", 50000, 50099}, {"10.0.2.2", 50100, 50199}}, 21, 990};
    const std::string cfg = haproxy_config(l);
    EXPECT_NE(cfg.find("bind 203.0.113.1:21\n"), std::string::npos);
    EXPECT_NE(cfg.find("bind 203.0.113.1:990\n"), std::string::npos);
    EXPECT_NE(cfg.find("server node1 10.0.1.2:21 send-proxy-v2 check"), std::string::npos);
    EXPECT_NE(cfg.find("server node2 10.0.2.2:990 send-proxy-v2 check"), std::string::npos);
    EXPECT_NE(cfg.find("bind 203.0.113.1:50100-50199\n    default_backend ferry_passive_node2\n"), std::string::npos);
    EXPECT_NE(cfg.find("backend ferry_passive_node2\n    server node2 10.0.2.2 send-proxy-v2\n"), std::string::npos);
    EXPECT_NE(cfg.find("PASSIVEADDRESS 203.0.113.1"), std::string::npos);
    l.tls_port = 0;
    EXPECT_EQ(haproxy_config(l).find("990"), std::string::npos);
}

}  // namespace
