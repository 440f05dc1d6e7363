#include "proto/line_reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using ferry::proto::line_reader;
using st = line_reader::status;

namespace {
// Drains all complete lines; too_long shows up as "<too long>".
std::vector<std::string> drain(line_reader& r) {
    std::vector<std::string> out;
    std::string line;
    for (;;) {
        auto s = r.next(line);
        if (s == st::need_more) return out;
        out.push_back(s == st::line ? line : "<too long>");
    }
}
const std::string IAC = "\xff";
}  // namespace

TEST(line_reader, crlf_and_bare_lf) {
    line_reader r;
    r.feed("USER a\r\nPASS b\nNOOP\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"USER a", "PASS b", "NOOP"}));
    EXPECT_EQ(r.buffered(), 0u);
}

TEST(line_reader, partial_line_needs_more) {
    line_reader r;
    std::string line;
    r.feed("USER an");
    EXPECT_EQ(r.next(line), st::need_more);
    EXPECT_EQ(r.buffered(), 7u);
    r.feed("on\r\n");
    EXPECT_EQ(r.next(line), st::line);
    EXPECT_EQ(line, "USER anon");
}

TEST(line_reader, crlf_split_across_feeds) {
    line_reader r;
    std::string line;
    r.feed("NOOP\r");
    EXPECT_EQ(r.next(line), st::need_more);
    r.feed("\nSYST\r");
    ASSERT_EQ(r.next(line), st::line);
    EXPECT_EQ(line, "NOOP");
    EXPECT_EQ(r.next(line), st::need_more);
    r.feed("\n");
    ASSERT_EQ(r.next(line), st::line);
    EXPECT_EQ(line, "SYST");
}

TEST(line_reader, byte_by_byte) {
    line_reader r;
    std::string in = "RETR a b\r\nQUIT\r\n";
    std::vector<std::string> got;
    for (char c : in) {
        r.feed(std::string_view(&c, 1));
        for (auto& l : drain(r)) got.push_back(l);
    }
    EXPECT_EQ(got, (std::vector<std::string>{"RETR a b", "QUIT"}));
}

TEST(line_reader, empty_line_and_inner_cr_kept) {
    line_reader r;
    r.feed("\r\n\na\rb\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"", "", "a\rb"}));
}

TEST(line_reader, pipelined_commands) {
    line_reader r;
    r.feed("USER x\r\nPASS y\r\nPWD\r\nLIST");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"USER x", "PASS y", "PWD"}));
    EXPECT_EQ(r.buffered(), 4u);
}

TEST(line_reader, telnet_iac_iac_is_data_ff) {
    line_reader r;
    r.feed("STOR a" + IAC + IAC + "b\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"STOR a\xff" "b"}));
}

TEST(line_reader, telnet_negotiation_dropped) {
    line_reader r;
    // IAC WILL 1, IAC DONT 3, IAC WONT 0x0d (option byte that looks like CR), IAC DO 0x0a (LF)
    r.feed("NO" + IAC + "\xfb\x01" + IAC + "\xfe\x03" + "OP" + IAC + "\xfc\r" + IAC + "\xfd\n" +
           "\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"NOOP"}));
}

TEST(line_reader, telnet_ip_dm_before_abor) {
    line_reader r;
    // What clients send for ABOR: IAC IP IAC DM (RFC 959 section 4.1.3)
    r.feed(IAC + "\xf4" + IAC + "\xf2" + "ABOR\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"ABOR"}));
}

TEST(line_reader, telnet_state_survives_feed_boundaries) {
    line_reader r;
    r.feed("A" + IAC);
    r.feed(IAC);  // IAC IAC split: one 0xFF
    r.feed("B" + IAC);
    r.feed("\xfb");  // IAC | WILL | option split over three feeds
    r.feed("\x01");
    r.feed("C" + IAC);
    r.feed("\xf4");  // IAC | IP
    r.feed("D\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"A\xff" "BCD"}));
}

TEST(line_reader, line_of_exactly_max_is_accepted) {
    line_reader r(8);
    r.feed("12345678\r\n123456789\r\nok\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"12345678", "<too long>", "ok"}));
}

TEST(line_reader, max_line_with_bare_lf) {
    line_reader r(8);
    r.feed("12345678\n123456789\nok\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"12345678", "<too long>", "ok"}));
}

TEST(line_reader, too_long_reported_once_then_good_line) {
    line_reader r(16);
    std::string big(100, 'x');
    r.feed(big + "\r\nNOOP\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"<too long>", "NOOP"}));
}

TEST(line_reader, too_long_reported_before_its_end_and_rest_dropped) {
    line_reader r(16);
    std::string line;
    r.feed(std::string(40, 'x'));
    EXPECT_EQ(r.next(line), st::too_long);  // reported at once, no waiting for LF
    EXPECT_EQ(r.next(line), st::need_more);
    r.feed(std::string(40, 'y'));
    EXPECT_EQ(r.next(line), st::need_more);
    r.feed("yyy\r");
    EXPECT_EQ(r.next(line), st::need_more);
    r.feed("\nQUIT\r\n");
    ASSERT_EQ(r.next(line), st::line);
    EXPECT_EQ(line, "QUIT");
    EXPECT_EQ(r.next(line), st::need_more);
}

TEST(line_reader, too_long_and_end_in_later_feed_before_next) {
    line_reader r(16);
    r.feed(std::string(30, 'x'));
    r.feed(std::string(30, 'x'));
    r.feed("\nPWD\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"<too long>", "PWD"}));
}

TEST(line_reader, memory_stays_bounded_for_endless_line) {
    line_reader r(64);
    std::string chunk(1000, 'z');
    for (int i = 0; i < 1000; ++i) {
        r.feed(chunk);
        EXPECT_LE(r.buffered(), 64u + 2u);
    }
    EXPECT_EQ(drain(r), (std::vector<std::string>{"<too long>"}));
    for (int i = 0; i < 10; ++i) r.feed(chunk);
    EXPECT_EQ(r.buffered(), 0u);
    r.feed("\nSYST\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"SYST"}));
}

TEST(line_reader, iac_escaped_ff_counts_toward_limit) {
    line_reader r(4);
    std::string ffs;
    for (int i = 0; i < 6; ++i) ffs += IAC + IAC;
    r.feed(ffs + "\r\nok\r\n");
    EXPECT_EQ(drain(r), (std::vector<std::string>{"<too long>", "ok"}));
}

TEST(line_reader, discard_buffered_drops_pending_lines) {
    line_reader r;
    std::string line;
    // CVE-2011-0411 style: a command injected after AUTH TLS in the same packet
    r.feed("AUTH TLS\r\nUSER evil\r\nPASS x");
    ASSERT_EQ(r.next(line), st::line);
    EXPECT_EQ(line, "AUTH TLS");
    EXPECT_GT(r.buffered(), 0u);
    r.discard_buffered();
    EXPECT_EQ(r.buffered(), 0u);
    EXPECT_EQ(r.next(line), st::need_more);
    r.feed("PBSZ 0\r\n");
    ASSERT_EQ(r.next(line), st::line);
    EXPECT_EQ(line, "PBSZ 0");
}

TEST(line_reader, discard_buffered_resets_telnet_and_skip_state) {
    line_reader r(8);
    std::string line;
    r.feed("AUTH TLS\r\n" + std::string(20, 'x') + IAC);
    ASSERT_EQ(r.next(line), st::line);
    r.discard_buffered();
    // With the old state, 0xFB would be WILL and 'A' its option, or all of it skipped as the
    // rest of the over-long line.
    r.feed("\xfb" "AB\r\n");
    ASSERT_EQ(r.next(line), st::line);
    EXPECT_EQ(line, "\xfb" "AB");
}

TEST(line_reader, buffer_is_compacted_over_long_sessions) {
    line_reader r;
    std::string line;
    for (int i = 0; i < 20000; ++i) {
        r.feed("NOOP\r\nNO");
        ASSERT_EQ(r.next(line), st::line);
        r.feed("OP\r\n");
        ASSERT_EQ(r.next(line), st::line);
        EXPECT_EQ(line, "NOOP");
    }
    EXPECT_EQ(r.buffered(), 0u);
}

// However the same bytes are cut into feeds, the same lines come out.
TEST(line_reader, chunking_does_not_change_result) {
    std::uint32_t seed = 12345;
    auto rnd = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
    const char alphabet[] = {'a', 'b', ' ', '\r', '\n', '\xff', '\xfb', '\xf4', '\x01'};
    for (int round = 0; round < 300; ++round) {
        std::string in;
        int n = rnd() % 200;
        for (int i = 0; i < n; ++i) in.push_back(alphabet[rnd() % sizeof alphabet]);
        line_reader whole(10);
        whole.feed(in);
        auto expected = drain(whole);
        line_reader pieces(10);
        std::vector<std::string> got;
        for (std::size_t i = 0; i < in.size();) {
            std::size_t len = 1 + rnd() % 7;
            pieces.feed(std::string_view(in).substr(i, len));
            i += len;
            if (rnd() % 2)
                for (auto& l : drain(pieces)) got.push_back(l);
        }
        for (auto& l : drain(pieces)) got.push_back(l);
        ASSERT_EQ(got, expected) << "round " << round;
    }
}
