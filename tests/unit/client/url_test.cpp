#include "client/url.hpp"

#include <gtest/gtest.h>

using namespace ferry::client;

namespace {
ftp_url parse(const char* text, bool bare = false) {
    std::string error;
    auto u = parse_url(text, bare, error);
    EXPECT_TRUE(u) << text << ": " << error;
    return u ? *u : ftp_url{};
}
std::string parse_error(const char* text, bool bare = false) {
    std::string error;
    auto u = parse_url(text, bare, error);
    EXPECT_FALSE(u) << text;
    return error;
}
}  // namespace

TEST(url, explicit_and_implicit_defaults) {
    auto u = parse("ftp://example.org/dir/file.txt");
    EXPECT_FALSE(u.implicit_tls);
    EXPECT_EQ(u.host, "example.org");
    EXPECT_EQ(u.port, 21);
    EXPECT_EQ(u.path, "dir/file.txt");
    EXPECT_FALSE(u.names_directory);
    EXPECT_FALSE(u.has_user);

    auto s = parse("FTPS://example.org");
    EXPECT_TRUE(s.implicit_tls);
    EXPECT_EQ(s.port, 990);
    EXPECT_EQ(s.path, "");
    EXPECT_TRUE(s.names_directory);
}

TEST(url, credentials_are_percent_decoded) {
    auto u = parse("ftp://us%40er:p%3Aw%2Fd%25@host:2121/a%20b/");
    EXPECT_TRUE(u.has_user);
    EXPECT_TRUE(u.has_password);
    EXPECT_EQ(u.user, "us@er");
    EXPECT_EQ(u.password, "p:w/d%");
    EXPECT_EQ(u.port, 2121);
    EXPECT_EQ(u.path, "a b/");
    EXPECT_TRUE(u.names_directory);
    EXPECT_EQ(u.display(), "ftp://us@er@host:2121/a b/");  // no password in messages
}

TEST(url, user_without_password_and_at_in_password) {
    auto u = parse("ftp://alice@host/");
    EXPECT_TRUE(u.has_user);
    EXPECT_FALSE(u.has_password);
    auto v = parse("ftp://bob:a@b@host/");  // the last @ ends the user information
    EXPECT_EQ(v.user, "bob");
    EXPECT_EQ(v.password, "a@b");
    EXPECT_EQ(v.host, "host");
}

TEST(url, absolute_paths) {
    EXPECT_EQ(parse("ftp://h//etc/motd").path, "/etc/motd");
    EXPECT_EQ(parse("ftp://h/%2Fetc/motd").path, "/etc/motd");
}

TEST(url, ipv6_and_ports) {
    auto u = parse("ftp://[2001:db8::1]:2121/x");
    EXPECT_EQ(u.host, "2001:db8::1");
    EXPECT_EQ(u.port, 2121);
    EXPECT_EQ(u.host_port(), "[2001:db8::1]:2121");
    EXPECT_EQ(parse("ftps://[::1]/").port, 990);
    EXPECT_NE(parse_error("ftp://h:0/"), "");
    EXPECT_NE(parse_error("ftp://h:65536/"), "");
    EXPECT_NE(parse_error("ftp://h:12a/"), "");
    EXPECT_NE(parse_error("ftp://[::1/"), "");
}

TEST(url, type_suffix) {
    auto u = parse("ftp://h/readme.txt;type=a");
    EXPECT_EQ(u.path, "readme.txt");
    EXPECT_EQ(u.type, 'A');
    EXPECT_EQ(parse("ftp://h/x.bin;type=i").type, 'I');
    EXPECT_NE(parse_error("ftp://h/x;type=z"), "");
}

TEST(url, refuses_other_schemes_and_bare_hosts_unless_allowed) {
    EXPECT_NE(parse_error("http://h/x").find("only ftp://"), std::string::npos);
    EXPECT_NE(parse_error("sftp://h/x"), "");
    EXPECT_NE(parse_error("h/x"), "");
    auto u = parse("127.0.0.1:2121", true);
    EXPECT_EQ(u.host, "127.0.0.1");
    EXPECT_EQ(u.port, 2121);
    EXPECT_FALSE(u.implicit_tls);
}

// SECURITY: an encoded CR LF would end the command and smuggle a second one.
TEST(url, refuses_control_characters) {
    EXPECT_NE(parse_error("ftp://h/a%0D%0ADELE%20b"), "");
    EXPECT_NE(parse_error("ftp://u%0A:p@h/"), "");
    EXPECT_NE(parse_error("ftp://u:p%00@h/"), "");
    EXPECT_NE(parse_error("ftp://h/%zz"), "");
    EXPECT_NE(parse_error("ftp://h/%4"), "");
    EXPECT_NE(parse_error("ftp:///x"), "");
    EXPECT_NE(parse_error("ftp://ho st/"), "");
}

TEST(url, percent_decode) {
    std::string out;
    EXPECT_TRUE(percent_decode("a%41%62c", out));
    EXPECT_EQ(out, "aAbc");
    EXPECT_FALSE(percent_decode("%", out));
    EXPECT_FALSE(percent_decode("%4", out));
    EXPECT_FALSE(percent_decode("%g0", out));
}
