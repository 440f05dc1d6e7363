// proto::printable: what a peer sends reaches a terminal or log without control characters.
#include "proto/printable.hpp"

#include <gtest/gtest.h>

using ferry::proto::printable;

TEST(printable, keeps_text_and_utf8) {
    EXPECT_EQ(printable("report 2026.pdf"), "report 2026.pdf");
    EXPECT_EQ(printable("Grüße — 日本"), "Grüße — 日本");
}

TEST(printable, escapes_controls_escape_sequences_and_line_breaks) {
    EXPECT_EQ(printable("a\r\n230 fake"), "a\\x0d\\x0a230 fake");
    EXPECT_EQ(printable("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
    EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
    EXPECT_EQ(printable("del\x7f"), "del\\x7f");
    EXPECT_EQ(printable("csi\xc2\x9b" "2J"), "csi\\xc2\\x9b2J");
    EXPECT_EQ(printable("tab\there"), "tab\\x09here");
}
