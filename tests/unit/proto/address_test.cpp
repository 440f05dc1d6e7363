#include "proto/address.hpp"

#include <gtest/gtest.h>

using namespace ferry::proto;

TEST(port_arg, parses_six_numbers) {
    auto hp = parse_port_arg("192,168,1,2,4,1");
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "192.168.1.2");
    EXPECT_EQ(hp->port, 4 * 256 + 1);
    EXPECT_EQ(hp->family, 1);
}

TEST(port_arg, tolerates_spaces_around_commas) {
    auto hp = parse_port_arg("10, 0 ,0,1 , 255,255");
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "10.0.0.1");
    EXPECT_EQ(hp->port, 65535);
}

TEST(port_arg, leading_zeros_normalised) {
    auto hp = parse_port_arg("010,000,000,001,000,021");
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "10.0.0.1");
    EXPECT_EQ(hp->port, 21);
}

TEST(port_arg, rejects_malformed) {
    EXPECT_FALSE(parse_port_arg(""));
    EXPECT_FALSE(parse_port_arg("1,2,3,4,5"));        // five numbers
    EXPECT_FALSE(parse_port_arg("1,2,3,4,5,6,7"));    // seven
    EXPECT_FALSE(parse_port_arg("256,0,0,1,4,1"));    // out of range host byte
    EXPECT_FALSE(parse_port_arg("127,0,0,1,4,256"));  // out of range port byte
    EXPECT_FALSE(parse_port_arg("127,0,0,1,0,0"));    // port 0
    EXPECT_FALSE(parse_port_arg("127,0,0,1,,1"));     // empty field
    EXPECT_FALSE(parse_port_arg("127,0,0,1,4,1,"));   // trailing comma
    EXPECT_FALSE(parse_port_arg("-1,0,0,1,4,1"));
    EXPECT_FALSE(parse_port_arg("127.0.0.1,4,1"));
    EXPECT_FALSE(parse_port_arg("0127,0,0,1,4,1"));   // four digits
    EXPECT_FALSE(parse_port_arg("127,0,0,1,4,1x"));
    EXPECT_FALSE(parse_port_arg("a,b,c,d,e,f"));
}

TEST(port_arg, format) {
    EXPECT_EQ(format_port_arg({"192.0.2.7", 1025, 1}), "192,0,2,7,4,1");
    EXPECT_EQ(format_port_arg({"::ffff:192.0.2.7", 21, 2}), "192,0,2,7,0,21");
    EXPECT_FALSE(format_port_arg({"2001:db8::1", 21, 2}));
    EXPECT_FALSE(format_port_arg({"example.com", 21, 0}));
    EXPECT_FALSE(format_port_arg({"", 21, 0}));
}

TEST(pasv_reply, forms_seen_in_real_servers) {
    struct {
        const char* text;
        const char* host;
        unsigned port;
    } cases[] = {
        {"Entering Passive Mode (127,0,0,1,4,1)", "127.0.0.1", 1025},   // vsftpd (no dot)
        {"Entering Passive Mode (127,0,0,1,4,1).", "127.0.0.1", 1025},  // RFC style
        {"Entering Passive Mode 127,0,0,1,4,1", "127.0.0.1", 1025},     // no parentheses
        {"Passive mode OK =127,0,0,1,4,1", "127.0.0.1", 1025},          // "=h1,..." form
        {"PASV OK (10, 1, 2, 3, 195, 80)", "10.1.2.3", 195 * 256 + 80}, // spaces after commas
        {"Entering Passive Mode (192,168,150,90,195,149).", "192.168.150.90", 50069},
    };
    for (auto& c : cases) {
        auto hp = parse_pasv_reply(c.text);
        ASSERT_TRUE(hp) << c.text;
        EXPECT_EQ(hp->host, c.host) << c.text;
        EXPECT_EQ(hp->port, c.port) << c.text;
        EXPECT_EQ(hp->family, 1);
    }
}

TEST(pasv_reply, skips_numbers_that_are_not_the_address) {
    auto hp = parse_pasv_reply("Entering Passive Mode, 2 tries left, (1,2,3,4,0,80)");
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "1.2.3.4");
    EXPECT_EQ(hp->port, 80);
}

TEST(pasv_reply, rejects_bad) {
    EXPECT_FALSE(parse_pasv_reply("Entering Passive Mode"));
    EXPECT_FALSE(parse_pasv_reply("Entering Passive Mode (127,0,0,1,4)"));
    EXPECT_FALSE(parse_pasv_reply("Entering Passive Mode (127,0,0,1,4,1,9)"));
    EXPECT_FALSE(parse_pasv_reply("Entering Passive Mode (300,0,0,1,4,1)"));
    EXPECT_FALSE(parse_pasv_reply("Entering Passive Mode (127,0,0,1,0,0)"));
}

TEST(pasv_reply, format_round_trip) {
    auto text = format_pasv_reply({"203.0.113.9", 50000, 1});
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, "Entering Passive Mode (203,0,113,9,195,80).");
    auto hp = parse_pasv_reply(*text);
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "203.0.113.9");
    EXPECT_EQ(hp->port, 50000);
    EXPECT_FALSE(format_pasv_reply({"2001:db8::1", 50000, 2}));
}

TEST(eprt_arg, rfc2428_examples) {
    auto v4 = parse_eprt_arg("|1|132.235.1.2|6275|");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->family, 1);
    EXPECT_EQ(v4->host, "132.235.1.2");
    EXPECT_EQ(v4->port, 6275);

    auto v6 = parse_eprt_arg("|2|1080::8:800:200C:417A|5282|");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->family, 2);
    EXPECT_EQ(v6->host, "1080::8:800:200C:417A");
    EXPECT_EQ(v6->port, 5282);
}

TEST(eprt_arg, other_delimiters) {
    auto hp = parse_eprt_arg("!2!::1!65535!");
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "::1");
    EXPECT_EQ(hp->port, 65535);
    EXPECT_TRUE(parse_eprt_arg("~1~10.0.0.1~21~"));
}

TEST(eprt_arg, rejects_malformed) {
    EXPECT_FALSE(parse_eprt_arg(""));
    EXPECT_FALSE(parse_eprt_arg("|"));
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.1|21"));       // missing closing delimiter
    EXPECT_FALSE(parse_eprt_arg("1|10.0.0.1|21|"));       // missing opening delimiter
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.1|21|x"));     // junk after
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.1|21||"));     // extra field
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.1|0|"));       // port 0
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.1|65536|"));   // port too big
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.1|-21|"));
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.1| 21|"));
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.1||"));        // empty port
    EXPECT_FALSE(parse_eprt_arg("|3|10.0.0.1|21|"));      // unknown family
    EXPECT_FALSE(parse_eprt_arg("||10.0.0.1|21|"));       // empty family
    EXPECT_FALSE(parse_eprt_arg("|1|::1|21|"));           // family/address mismatch
    EXPECT_FALSE(parse_eprt_arg("|2|10.0.0.1|21|"));      // family/address mismatch
    EXPECT_FALSE(parse_eprt_arg("|1|10.0.0.256|21|"));
    EXPECT_FALSE(parse_eprt_arg("|1|example.com|21|"));   // names are not addresses
    EXPECT_FALSE(parse_eprt_arg("|2|fe80::1%eth0|21|"));  // no zone ids
    EXPECT_FALSE(parse_eprt_arg("|1||21|"));
    EXPECT_FALSE(parse_eprt_arg(" 1 10.0.0.1 21 "));      // space (32) is not a valid delimiter
    EXPECT_FALSE(parse_eprt_arg("\x7f" "1\x7f" "10.0.0.1\x7f" "21\x7f"));
    EXPECT_FALSE(parse_eprt_arg(std::string_view("|1|10.0.0.1\0x|21|", 18)));
}

TEST(eprt_arg, format_round_trip) {
    EXPECT_EQ(format_eprt_arg({"10.0.0.1", 2121, 1}), "|1|10.0.0.1|2121|");
    EXPECT_EQ(format_eprt_arg({"2001:db8::1", 2121, 2}), "|2|2001:db8::1|2121|");
    EXPECT_EQ(format_eprt_arg({"2001:db8::1", 2121, 0}), "|2|2001:db8::1|2121|");
    auto hp = parse_eprt_arg(format_eprt_arg({"2001:db8::1", 40000, 2}));
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "2001:db8::1");
    EXPECT_EQ(hp->port, 40000);
}

TEST(epsv_reply, parse) {
    EXPECT_EQ(parse_epsv_reply("Entering Extended Passive Mode (|||6446|)"), 6446);
    EXPECT_EQ(parse_epsv_reply("Entering Extended Passive Mode (|||6446|)."), 6446);
    EXPECT_EQ(parse_epsv_reply("EPSV ok (!!!1!)"), 1);
    EXPECT_EQ(parse_epsv_reply("(x) then (|||65535|)"), 65535);
    EXPECT_FALSE(parse_epsv_reply("Entering Extended Passive Mode"));
    EXPECT_FALSE(parse_epsv_reply("(|||6446)"));
    EXPECT_FALSE(parse_epsv_reply("(|||6446|"));
    EXPECT_FALSE(parse_epsv_reply("(||6446|)"));
    EXPECT_FALSE(parse_epsv_reply("(|!|6446|)"));   // mixed delimiters
    EXPECT_FALSE(parse_epsv_reply("(|||6446!)"));
    EXPECT_FALSE(parse_epsv_reply("(|||0|)"));
    EXPECT_FALSE(parse_epsv_reply("(|||65536|)"));
    EXPECT_FALSE(parse_epsv_reply("(|||x|)"));
    EXPECT_FALSE(parse_epsv_reply("(||||)"));
}

TEST(epsv_reply, format_round_trip) {
    EXPECT_EQ(format_epsv_reply(6446), "Entering Extended Passive Mode (|||6446|)");
    EXPECT_EQ(parse_epsv_reply(format_epsv_reply(50123)), 50123);
}

TEST(ip_text, validation) {
    EXPECT_TRUE(is_ipv4("192.0.2.1"));
    EXPECT_TRUE(is_ipv4("0.0.0.0"));
    EXPECT_FALSE(is_ipv4("192.0.2"));
    EXPECT_FALSE(is_ipv4("192.0.2.256"));
    EXPECT_FALSE(is_ipv4("::1"));
    EXPECT_FALSE(is_ipv4(""));
    EXPECT_FALSE(is_ipv4(" 192.0.2.1"));
    EXPECT_TRUE(is_ipv6("::1"));
    EXPECT_TRUE(is_ipv6("2001:db8::1"));
    EXPECT_TRUE(is_ipv6("::ffff:192.0.2.1"));
    EXPECT_FALSE(is_ipv6("192.0.2.1"));
    EXPECT_FALSE(is_ipv6("[::1]"));
    EXPECT_FALSE(is_ipv6("2001:db8::g"));
    EXPECT_FALSE(is_ipv6(""));
}

TEST(ip_text, unmap_ipv4) {
    EXPECT_EQ(unmap_ipv4("::ffff:192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(unmap_ipv4("::FFFF:192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(unmap_ipv4("::ffff:c000:201"), "192.0.2.1");
    EXPECT_EQ(unmap_ipv4("2001:db8::1"), "2001:db8::1");
    EXPECT_EQ(unmap_ipv4("::1"), "::1");
    EXPECT_EQ(unmap_ipv4("192.0.2.1"), "192.0.2.1");
    EXPECT_EQ(unmap_ipv4("junk"), "junk");
}
