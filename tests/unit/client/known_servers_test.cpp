#include "client/known_servers.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

using namespace ferry::client;

TEST(known_servers, lookup) {
    known_servers k;
    k.parse("# comment\nftp.example.org:21 SHA256:AB:CD\n[2001:db8::1]:990 SHA256:EF\n\n");
    EXPECT_EQ(k.lookup("ftp.example.org:21", "SHA256:AB:CD"), known_status::match);
    EXPECT_EQ(k.lookup("FTP.example.org:21", "sha256:ab:cd"), known_status::match);
    EXPECT_EQ(k.lookup("ftp.example.org:21", "SHA256:00:00"), known_status::mismatch);
    EXPECT_EQ(k.lookup("ftp.example.org:2121", "SHA256:AB:CD"), known_status::unknown);
    EXPECT_EQ(k.recorded("[2001:db8::1]:990"), "SHA256:EF");
}

TEST(known_servers, remember_writes_a_private_file) {
    std::string dir = testing::TempDir() + "/ferry-known-" + std::to_string(::getpid());
    std::string path = dir + "/sub/known_servers";
    known_servers k;
    std::string error;
    ASSERT_TRUE(k.load(path, error));  // missing file: empty
    ASSERT_TRUE(k.remember(path, "h:21", "SHA256:01", error)) << error;
    ASSERT_TRUE(k.remember(path, "h:21", "SHA256:02", error)) << error;  // replaces
    ASSERT_TRUE(k.remember(path, "g:990", "SHA256:03", error)) << error;
    known_servers again;
    ASSERT_TRUE(again.load(path, error));
    EXPECT_EQ(again.recorded("h:21"), "SHA256:02");
    EXPECT_EQ(again.recorded("g:990"), "SHA256:03");
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}
