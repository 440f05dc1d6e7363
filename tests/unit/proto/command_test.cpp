#include "proto/command.hpp"

#include <gtest/gtest.h>

using ferry::proto::command;
using ferry::proto::parse_command;

TEST(command, verb_upper_cased_and_arg_kept) {
    command c;
    ASSERT_TRUE(parse_command("retr file.txt", c));
    EXPECT_EQ(c.verb, "RETR");
    EXPECT_EQ(c.arg, "file.txt");
}

TEST(command, no_argument) {
    command c{"X", "old"};
    ASSERT_TRUE(parse_command("PWD", c));
    EXPECT_EQ(c.verb, "PWD");
    EXPECT_EQ(c.arg, "");
}

TEST(command, trailing_space_gives_empty_arg) {
    command c;
    ASSERT_TRUE(parse_command("LIST ", c));
    EXPECT_EQ(c.verb, "LIST");
    EXPECT_EQ(c.arg, "");
}

TEST(command, spaces_in_argument_are_preserved) {
    command c;
    ASSERT_TRUE(parse_command("STOR  my file  ", c));
    EXPECT_EQ(c.verb, "STOR");
    EXPECT_EQ(c.arg, " my file  ");
}

TEST(command, rejects_bad_verbs) {
    command c;
    EXPECT_FALSE(parse_command("", c));
    EXPECT_FALSE(parse_command(" USER x", c));
    EXPECT_FALSE(parse_command("CD x", c));
    EXPECT_FALSE(parse_command("STORE x", c));
    EXPECT_FALSE(parse_command("US3R x", c));
    EXPECT_FALSE(parse_command("XSHA2560 x", c));  // digits only at the end, at most three
    EXPECT_FALSE(parse_command("X256 x", c));
    EXPECT_FALSE(parse_command("USER\tx", c));
    EXPECT_FALSE(parse_command("\xff\xf4\xff\xf2", c));
    EXPECT_FALSE(parse_command("\xe4" "BOR", c));  // Latin-1 letter: not ASCII
}

TEST(command, three_letter_verbs) {
    command c;
    ASSERT_TRUE(parse_command("mkd a b", c));
    EXPECT_EQ(c.verb, "MKD");
    EXPECT_EQ(c.arg, "a b");
}

TEST(command, upper_trims_and_upcases) {
    EXPECT_EQ(ferry::proto::upper(" tls "), "TLS");
    EXPECT_EQ(ferry::proto::upper("Tls-C"), "TLS-C");
    EXPECT_EQ(ferry::proto::upper("\tssl"), "SSL");
    EXPECT_EQ(ferry::proto::upper(""), "");
    EXPECT_EQ(ferry::proto::upper("a b"), "A B");
}

TEST(command, digest_verbs_end_in_digits) {
    command c;
    ASSERT_TRUE(parse_command("xsha256 my file", c));
    EXPECT_EQ(c.verb, "XSHA256");
    EXPECT_EQ(c.arg, "my file");
    ASSERT_TRUE(parse_command("XMD5 f", c));
    EXPECT_EQ(c.verb, "XMD5");
}
