#include "proto/reply.hpp"

#include "proto/reply_code.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using ferry::proto::format_reply;
using ferry::proto::reply;
using ferry::proto::reply_parser;
using st = reply_parser::status;

namespace {
// Splits formatted output on CRLF and feeds the parser; returns the parsed reply.
reply parse_all(std::string_view wire, int* lines_fed = nullptr) {
    reply_parser p;
    int n = 0;
    while (!wire.empty()) {
        auto crlf = wire.find("\r\n");
        EXPECT_NE(crlf, std::string_view::npos);
        auto s = p.feed_line(wire.substr(0, crlf));
        wire.remove_prefix(crlf + 2);
        ++n;
        if (s == st::done) {
            EXPECT_TRUE(wire.empty()) << "reply ended early";
            if (lines_fed) *lines_fed = n;
            return p.take();
        }
        EXPECT_EQ(s, st::need_more);
    }
    ADD_FAILURE() << "reply not complete";
    return {};
}
}  // namespace

TEST(format_reply, single_line) {
    EXPECT_EQ(format_reply(227, "text"), "227 text\r\n");
    EXPECT_EQ(format_reply(ferry::proto::code::ok, "OK"), "200 OK\r\n");
    EXPECT_EQ(format_reply(200, ""), "200 \r\n");
    EXPECT_EQ(format_reply(200, "one\n"), "200 one\r\n");  // trailing newline: no empty last line
}

TEST(format_reply, multi_line) {
    EXPECT_EQ(format_reply(211, "Features:\nMDTM\nEnd"), "211-Features:\r\n MDTM\r\n211 End\r\n");
    EXPECT_EQ(format_reply(211, "a\nb"), "211-a\r\n211 b\r\n");
    EXPECT_EQ(format_reply(211, "a\nb\nc\n"), "211-a\r\n b\r\n211 c\r\n");
}

TEST(format_reply, inner_line_cannot_close_reply) {
    // A file name that looks like a closing line stays inside the reply.
    auto s = format_reply(550, "No such file:\n550 fake\nbye");
    EXPECT_EQ(s, "550-No such file:\r\n 550 fake\r\n550 bye\r\n");
    int fed = 0;
    auto r = parse_all(s, &fed);
    EXPECT_EQ(fed, 3);
}

TEST(format_reply, cr_in_text_is_dropped) {
    EXPECT_EQ(format_reply(200, "a\r\nb"), "200-a\r\n200 b\r\n");
    EXPECT_EQ(format_reply(200, "x\ry"), "200 xy\r\n");
}

TEST(reply_parser, single_line) {
    reply_parser p;
    ASSERT_EQ(p.feed_line("220 ferry ready"), st::done);
    auto r = p.take();
    EXPECT_EQ(r.code, 220);
    EXPECT_EQ(r.text(), "ferry ready");
    EXPECT_TRUE(r.positive_completion());
    EXPECT_FALSE(r.positive_preliminary());
}

TEST(reply_parser, bare_code) {
    reply_parser p;
    ASSERT_EQ(p.feed_line("200"), st::done);
    auto r = p.take();
    EXPECT_EQ(r.code, 200);
    EXPECT_EQ(r.text(), "");
}

TEST(reply_parser, bad_lines) {
    reply_parser p;
    EXPECT_EQ(p.feed_line(""), st::bad);
    EXPECT_EQ(p.feed_line("22"), st::bad);
    EXPECT_EQ(p.feed_line("2x0 hi"), st::bad);
    EXPECT_EQ(p.feed_line("hello"), st::bad);
    EXPECT_EQ(p.feed_line("220x"), st::bad);
    // a good reply still parses afterwards
    ASSERT_EQ(p.feed_line("331 pass"), st::done);
    EXPECT_EQ(p.take().code, 331);
}

TEST(reply_parser, multi_line_with_foreign_inner_lines) {
    reply_parser p;
    EXPECT_EQ(p.feed_line("230-Welcome"), st::need_more);
    EXPECT_EQ(p.feed_line("no code here"), st::need_more);
    EXPECT_EQ(p.feed_line("220 other code is text"), st::need_more);
    EXPECT_EQ(p.feed_line(""), st::need_more);
    EXPECT_EQ(p.feed_line("230-repeated code prefix"), st::need_more);
    EXPECT_EQ(p.feed_line("230 Logged in"), st::done);
    auto r = p.take();
    EXPECT_EQ(r.code, 230);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"Welcome", "no code here", "220 other code is text", "",
                                                 "repeated code prefix", "Logged in"}));
}

TEST(reply_parser, feat_reply_of_real_server) {
    reply_parser p;
    EXPECT_EQ(p.feed_line("211-Features:"), st::need_more);
    EXPECT_EQ(p.feed_line(" AUTH TLS"), st::need_more);
    EXPECT_EQ(p.feed_line(" MLST type*;size*;modify*;"), st::need_more);
    EXPECT_EQ(p.feed_line("211 End"), st::done);
    auto r = p.take();
    EXPECT_EQ(r.lines, (std::vector<std::string>{"Features:", "AUTH TLS", "MLST type*;size*;modify*;", "End"}));
}

TEST(reply_parser, consecutive_replies) {
    reply_parser p;
    ASSERT_EQ(p.feed_line("150-Opening"), st::need_more);
    ASSERT_EQ(p.feed_line("150 data"), st::done);
    auto a = p.take();
    ASSERT_EQ(p.feed_line("226 done"), st::done);
    auto b = p.take();
    EXPECT_EQ(a.code, 150);
    EXPECT_TRUE(a.positive_preliminary());
    EXPECT_EQ(a.text(), "Opening\ndata");
    EXPECT_EQ(b.code, 226);
    EXPECT_EQ(b.lines.size(), 1u);
}

TEST(reply_parser, bare_code_closes_multi_line) {
    reply_parser p;
    ASSERT_EQ(p.feed_line("211-a"), st::need_more);
    ASSERT_EQ(p.feed_line("211"), st::done);
    EXPECT_EQ(p.take().text(), "a\n");
}

TEST(reply_roundtrip, format_then_parse) {
    for (std::string text : {"one", "", "first\nsecond", "first\n second with space\n211 x\nlast",
                             "a\n\nb", " leading", "x\n-y-\nz"}) {
        auto r = parse_all(format_reply(211, text));
        EXPECT_EQ(r.code, 211);
        EXPECT_EQ(r.text(), text);
    }
}

TEST(reply_roundtrip, positive_intermediate) {
    auto r = parse_all(format_reply(331, "Password required"));
    EXPECT_TRUE(r.positive_intermediate());
}

// 257: both halves, with quotes inside the path (RFC 959 appendix II).
TEST(pathname_reply, quote_and_parse_are_inverse) {
    for (const std::string p : {"/", "/docs", "/a\"b", "/\"\"", "/with space/x\"", "/ünïcode"}) {
        const std::string quoted = ferry::proto::quote_pathname(p);
        EXPECT_EQ(ferry::proto::parse_quoted_pathname(quoted + " is the current directory."), p) << quoted;
    }
    EXPECT_EQ(ferry::proto::quote_pathname("/a\"b"), "\"/a\"\"b\"");
    EXPECT_EQ(ferry::proto::parse_quoted_pathname("\"/x\" created"), "/x");
    EXPECT_EQ(ferry::proto::parse_quoted_pathname("no quotes here"), "no quotes here");
    EXPECT_EQ(ferry::proto::parse_quoted_pathname("\"/unterminated"), "/unterminated");
}

// The size in a 150 reply: what the server writes, the client reads; anything else is 0.
TEST(transfer_size, note_and_parse) {
    for (std::uint64_t n : {0ull, 5ull, 1ull << 40, 18446744073709551615ull}) {
        const std::string text = "Opening BINARY mode data connection for /f " + ferry::proto::transfer_size_note(n) + ".";
        EXPECT_EQ(ferry::proto::parse_transfer_size(text), n) << text;
    }
    for (const char* t : {"Opening data connection.", "( bytes)", "(12x bytes)", "(18446744073709551616 bytes)", "12 bytes)"})
        EXPECT_EQ(ferry::proto::parse_transfer_size(t), 0u) << t;
}
