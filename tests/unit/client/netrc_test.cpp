#include "client/netrc.hpp"

#include <gtest/gtest.h>

using namespace ferry::client;

namespace {
const char* text =
    "# comment line\n"
    "machine ftp.example.org login alice password s3cret\n"
    "machine ftp.example.org\n"
    "  login bob\n"
    "  password \"with space\"\n"
    "macdef init\n"
    "cd /pub\n"
    "binary\n"
    "\n"
    "machine other.example.org login carol\n"
    "default login anonymous password guest@\n";
}

TEST(netrc, first_matching_machine) {
    auto e = netrc_find(text, "ftp.example.org", "");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->login, "alice");
    EXPECT_EQ(e->password, "s3cret");
    EXPECT_TRUE(e->has_password);
}

TEST(netrc, host_names_are_case_insensitive) {
    auto e = netrc_find(text, "FTP.Example.ORG", "");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->login, "alice");
}

TEST(netrc, login_selects_the_entry) {
    auto e = netrc_find(text, "ftp.example.org", "bob");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->login, "bob");
    EXPECT_EQ(e->password, "with space");
}

TEST(netrc, entry_without_password) {
    auto e = netrc_find(text, "other.example.org", "");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->login, "carol");
    EXPECT_FALSE(e->has_password);
}

TEST(netrc, default_entry_and_macdef_skipped) {
    auto e = netrc_find(text, "unknown.example.org", "");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->login, "anonymous");
    EXPECT_EQ(e->password, "guest@");
    // "cd", "binary" inside the macdef are not read as tokens of an entry
    EXPECT_FALSE(netrc_find("machine a login x\nmacdef m\nlogin y password z\n\n", "b", ""));
}

TEST(netrc, no_match) {
    EXPECT_FALSE(netrc_find("machine a login x password y\n", "b", ""));
    EXPECT_FALSE(netrc_find("machine a login x password y\n", "a", "someone-else"));
    EXPECT_FALSE(netrc_find("", "a", ""));
}
