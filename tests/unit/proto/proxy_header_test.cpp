// The PROXY protocol header parser (issue 15): what HAProxy sends, and the malformed, truncated
// and oversized headers a wrong peer could send instead.
#include "proto/proxy_header.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using ferry::proto::parse_proxy_header;
using ferry::proto::proxy_header;
using status = ferry::proto::proxy_parse::status;

std::string v2(unsigned char ver_cmd, unsigned char family, const std::string& body) {
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += static_cast<char>(ver_cmd);
    h += static_cast<char>(family);
    h += static_cast<char>(body.size() >> 8);
    h += static_cast<char>(body.size() & 0xff);
    return h + body;
}

std::string bytes(std::initializer_list<int> v) {
    std::string s;
    for (int b : v) s += static_cast<char>(b);
    return s;
}

// 198.51.100.9:4444 -> 203.0.113.1:21
const std::string tcp4_body = bytes({198, 51, 100, 9, 203, 0, 113, 1, 0x11, 0x5c, 0, 21});

TEST(ProxyHeader, V1Tcp4) {
    const std::string h = "PROXY TCP4 198.51.100.9 203.0.113.1 4444 21\r\n";
    auto r = parse_proxy_header(h + "USER x\r\n");
    ASSERT_EQ(r.state, status::done) << r.error;
    EXPECT_EQ(r.header.version, 1);
    EXPECT_EQ(r.header.what, proxy_header::kind::relayed);
    EXPECT_EQ(r.header.length, h.size());
    EXPECT_EQ(r.header.source.address, "198.51.100.9");
    EXPECT_EQ(r.header.source.port, 4444);
    EXPECT_EQ(r.header.destination.address, "203.0.113.1");
    EXPECT_EQ(r.header.destination.port, 21);
}

TEST(ProxyHeader, V1Tcp6IsCanonical) {
    auto r = parse_proxy_header("PROXY TCP6 2001:DB8:0:0::7 2001:db8::1 65535 990\r\n");
    ASSERT_EQ(r.state, status::done) << r.error;
    EXPECT_EQ(r.header.source.address, "2001:db8::7");
    EXPECT_EQ(r.header.source.port, 65535);
}

TEST(ProxyHeader, V1UnknownIsTheBalancersOwn) {
    for (std::string h : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"}) {
        auto r = parse_proxy_header(h);
        ASSERT_EQ(r.state, status::done) << h;
        EXPECT_EQ(r.header.what, proxy_header::kind::local);
        EXPECT_EQ(r.header.length, h.size());
    }
}

TEST(ProxyHeader, EveryPrefixOfAHeaderAsksForMore) {
    for (const std::string& h : {std::string("PROXY TCP4 198.51.100.9 203.0.113.1 4444 21\r\n"), v2(0x21, 0x11, tcp4_body)})
        for (std::size_t n = 0; n < h.size(); ++n)
            EXPECT_EQ(parse_proxy_header(h.substr(0, n)).state, status::need_more) << n << " bytes of " << h.size();
}

TEST(ProxyHeader, OtherFirstBytesAreRefusedAtOnce) {
    for (std::string_view in : {"USER bob\r\n", "\x16\x03\x01", "PROXZ", "proxy ", "\r\n\r\n\x01"})
        EXPECT_EQ(parse_proxy_header(in).state, status::invalid) << in;
}

TEST(ProxyHeader, V1MalformedLinesAreRefused) {
    for (std::string_view in : {
             "PROXY TCP4 198.51.100.9 203.0.113.1 4444\r\n",          // a field short
             "PROXY TCP4 198.51.100.9 203.0.113.1 4444 21 9\r\n",     // a field more
             "PROXY TCP4  198.51.100.9 203.0.113.1 4444 21\r\n",      // two spaces
             "PROXY TCP4 2001:db8::1 203.0.113.1 4444 21\r\n",        // v6 in TCP4
             "PROXY TCP6 198.51.100.9 2001:db8::1 4444 21\r\n",       // v4 in TCP6
             "PROXY TCP4 198.51.100.256 203.0.113.1 4444 21\r\n",     // not an address
             "PROXY TCP4 198.51.100.9 203.0.113.1 65536 21\r\n",      // port too big
             "PROXY TCP4 198.51.100.9 203.0.113.1 0444 21\r\n",       // leading zero
             "PROXY TCP4 198.51.100.9 203.0.113.1 -1 21\r\n",         // sign
             "PROXY UDP4 198.51.100.9 203.0.113.1 4444 21\r\n",       // not TCP
             "PROXY TCP4 198.51.100.9\n203.0.113.1 4444 21\r\n",      // a bare LF
             "PROXY TCP4 198.51.100.9 203.0.113.1 4444 21\r\r\n",     // a CR inside
         })
        EXPECT_EQ(parse_proxy_header(in).state, status::invalid) << in;
}

TEST(ProxyHeader, V1WithoutLineEndWithin107BytesIsRefused) {
    EXPECT_EQ(parse_proxy_header("PROXY " + std::string(100, 'A')).state, status::need_more);
    EXPECT_EQ(parse_proxy_header("PROXY " + std::string(101, 'A')).state, status::invalid);
}

TEST(ProxyHeader, V2Tcp4) {
    const std::string h = v2(0x21, 0x11, tcp4_body);
    auto r = parse_proxy_header(h + "\x16\x03\x01");
    ASSERT_EQ(r.state, status::done) << r.error;
    EXPECT_EQ(r.header.version, 2);
    EXPECT_EQ(r.header.length, 28u);
    EXPECT_EQ(r.header.source.address, "198.51.100.9");
    EXPECT_EQ(r.header.source.port, 4444);
    EXPECT_EQ(r.header.destination.port, 21);
}

TEST(ProxyHeader, V2Tcp6WithTlvs) {
    std::string body = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7});
    body += bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    body += bytes({0x04, 0x00, 0x03, 0xde});
    body += bytes({0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x00});  // ALPN "h2", an empty NOOP
    auto r = parse_proxy_header(v2(0x21, 0x21, body));
    ASSERT_EQ(r.state, status::done) << r.error;
    EXPECT_EQ(r.header.source.address, "2001:db8::7");
    EXPECT_EQ(r.header.source.port, 1024);
    EXPECT_EQ(r.header.destination.port, 990);
}

TEST(ProxyHeader, V2LocalAndUnspecAreTheBalancersOwn) {
    for (const std::string& h : {v2(0x20, 0x00, ""), v2(0x20, 0x11, tcp4_body), v2(0x21, 0x00, ""), v2(0x20, 0x31, "x")}) {
        auto r = parse_proxy_header(h);
        ASSERT_EQ(r.state, status::done) << r.error;
        EXPECT_EQ(r.header.what, proxy_header::kind::local);
    }
}

TEST(ProxyHeader, V2MalformedHeadersAreRefused) {
    for (const std::string& in : {
             v2(0x11, 0x11, tcp4_body),                        // version 1 in a v2 header
             v2(0x22, 0x11, tcp4_body),                        // command 2
             v2(0x21, 0x12, tcp4_body),                        // UDP
             v2(0x21, 0x31, std::string(216, 'x')),            // AF_UNIX relayed
             v2(0x21, 0x11, tcp4_body.substr(0, 11)),          // addresses cut short
             v2(0x21, 0x11, tcp4_body + bytes({0x04, 0x00})),  // a truncated TLV
             v2(0x21, 0x11, tcp4_body + bytes({0x04, 0x00, 0x05, 1})),  // a TLV past the end
         })
        EXPECT_EQ(parse_proxy_header(in).state, status::invalid) << in.size();
}

TEST(ProxyHeader, V2LongerThanTheLimitIsRefusedFromItsLength) {
    const std::string big = v2(0x21, 0x11, tcp4_body + bytes({0x04, 0x03, 0xf0}) + std::string(1008, 'x'));
    EXPECT_EQ(parse_proxy_header(big.substr(0, 16)).state, status::invalid);
}

}  // namespace
