#include <crypt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "auth/users_file.hpp"

using ferry::auth::make_sha512_hash;
using ferry::auth::users_file;

namespace {

// `openssl passwd -6 -salt abc secret`
constexpr const char* openssl_hash =
    "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1";

std::string parse_error(const std::string& text) {
    users_file f;
    std::string error;
    EXPECT_FALSE(f.parse(text, "users", "/srv", error)) << text;
    return error;
}

}  // namespace

TEST(users_file, parses_good_lines) {
    users_file f;
    std::string error = "stale";
    std::string text = "# comment\n"
                       "\n"
                       "alice:" + std::string(openssl_hash) + ":/srv/ftp/alice\r\n"
                       "   # indented comment\n"
                       "bob:$6$abc$xyz:bob:readonly, download=64K,from=10.0.0.0/8,from=2001:db8::/32  \n"
                       "carol:" + std::string(openssl_hash) + ":/abs";  // no final newline
    ASSERT_TRUE(f.parse(text, "users", "/etc/ferry", error)) << error;
    EXPECT_EQ(error, "");
    ASSERT_EQ(f.size(), 3u);
    const auto* a = f.find("alice");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->hash, openssl_hash);
    EXPECT_EQ(a->home, "/srv/ftp/alice");
    const auto* b = f.find("bob");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->hash, "$6$abc$xyz");
    EXPECT_EQ(b->home, "/etc/ferry/bob");  // relative home
    EXPECT_TRUE(b->read_only);
    EXPECT_EQ(b->download_rate, 64u * 1024);
    EXPECT_EQ(b->upload_rate, std::nullopt);
    EXPECT_EQ(b->networks, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
    EXPECT_EQ(b->certificate, "");
    EXPECT_FALSE(a->read_only);
    EXPECT_EQ(a->download_rate, std::nullopt);
    EXPECT_TRUE(a->networks.empty());
    EXPECT_EQ(f.find("dave"), nullptr);
    EXPECT_EQ(f.find("Alice"), nullptr);

    users_file empty;
    EXPECT_TRUE(empty.parse("", "users", "/", error));
    EXPECT_EQ(empty.size(), 0u);
}

TEST(users_file, reports_errors_with_file_and_line) {
    EXPECT_EQ(parse_error("alice\n"), "users:1: expected \"name:hash:home\" or \"name:hash:home:options\"");
    EXPECT_EQ(parse_error("# c\nalice:$6$abc$x\n"), "users:2: expected \"name:hash:home\" or \"name:hash:home:options\"");
    EXPECT_EQ(parse_error("\n\n:$6$abc$x:/home\n"), "users:3: user name is empty");
    EXPECT_EQ(parse_error("al ice:$6$abc$x:/home\n"),
              "users:1: user name \"al ice\" contains a space or control character");
    EXPECT_EQ(parse_error("al\tice:$6$abc$x:/home\n"),
              "users:1: user name \"al\tice\" contains a space or control character");
    EXPECT_EQ(parse_error("alice:secret:/home\n"),
              "users:1: password of user \"alice\" is not a crypt(3) hash (it must start with "
              "'$'; make one with `openssl passwd -6`)");
    EXPECT_EQ(parse_error("alice::/home\n"),
              "users:1: password of user \"alice\" is not a crypt(3) hash (it must start with "
              "'$'; make one with `openssl passwd -6`)");
    EXPECT_EQ(parse_error("alice:$nosuchmethod$x$y:/home\n"),
              "users:1: password hash of user \"alice\" is malformed or uses a method this "
              "system's crypt(3) does not support");
    EXPECT_EQ(parse_error("alice:$6$abc$x:\n"), "users:1: home folder of user \"alice\" is empty");
    EXPECT_EQ(parse_error("alice:$6$abc$x:/a\nbob:$6$abc$x:/b\nalice:$6$abc$y:/c\n"),
              "users:3: user \"alice\" is already defined on line 1");
}

// Options: each mistake named with its line; a home folder with ':' now reads as options.
TEST(users_file, reports_option_errors_with_file_and_line) {
    EXPECT_EQ(parse_error("a:$6$abc$x:/a\nbob:$6$abc$x:/b:readonly,fast\n"),
              "users:2: user \"bob\": unknown option 'fast' (readonly, download=, upload=, sha256=, from=)");
    EXPECT_EQ(parse_error("bob:$6$abc$x:/b:download=100\n"),
              "users:1: user \"bob\": download='100': the rate is 0 (no limit), or 1024 and more, with K, M or G "
              "allowed (512K, 10M)");
    EXPECT_EQ(parse_error("bob:$6$abc$x:/b:upload=\n"),
              "users:1: user \"bob\": upload='': the rate is 0 (no limit), or 1024 and more, with K, M or G "
              "allowed (512K, 10M)");
    EXPECT_EQ(parse_error("bob:$6$abc$x:/b:from=10.0.0.0/33\n"),
              "users:1: user \"bob\": from='10.0.0.0/33' is not a subnet such as 192.168.0.0/16");
    EXPECT_EQ(parse_error("bob:$6$abc$x:/b:from=files.example\n"),
              "users:1: user \"bob\": from='files.example' is not a subnet such as 192.168.0.0/16");
    EXPECT_EQ(parse_error("bob:$6$abc$x:/b:sha256=AB:CD\n"),
              "users:1: user \"bob\": sha256='AB:CD' is not a SHA-256 fingerprint (64 hex digits, colons allowed)");
    EXPECT_EQ(parse_error("bob:$6$abc$x:/srv/a:b\n"),
              "users:1: user \"bob\": unknown option 'b' (readonly, download=, upload=, sha256=, from=)");
}

// The fingerprint may be written with or without colons and in either case; it is kept in the
// form TLS peers are compared in.
TEST(users_file, certificate_option_is_normalised) {
    users_file f;
    std::string error;
    const std::string hex(64, 'a');
    ASSERT_TRUE(f.parse("bob:$6$abc$x:/b:upload=0,sha256=" + hex + ",readonly\n", "users", "/", error)) << error;
    const auto* b = f.find("bob");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->certificate.substr(0, 13), "SHA256:AA:AA:");
    EXPECT_EQ(b->certificate.size(), 7u + 64 + 31);
    EXPECT_EQ(b->upload_rate, 0u);  // an explicit 0: this user is not limited whatever UPLOADRATE says
    EXPECT_TRUE(b->read_only);
}

TEST(users_file, failed_parse_keeps_previous_users) {
    users_file f;
    std::string error;
    ASSERT_TRUE(f.parse("alice:$6$abc$x:/a\n", "users", "/", error));
    EXPECT_FALSE(f.parse("bob:$6$abc$x:/b\nbroken\n", "users", "/", error));
    EXPECT_EQ(f.size(), 1u);
    EXPECT_NE(f.find("alice"), nullptr);
    EXPECT_EQ(f.find("bob"), nullptr);
}

TEST(users_file, authenticates_openssl_sha512) {
    users_file f;
    std::string error;
    ASSERT_TRUE(f.parse("alice:" + std::string(openssl_hash) + ":/a\n", "users", "/", error))
        << error;
    const auto* u = f.authenticate("alice", "secret");
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(u->name, "alice");
    EXPECT_EQ(f.authenticate("alice", "Secret"), nullptr);
    EXPECT_EQ(f.authenticate("alice", ""), nullptr);
    EXPECT_EQ(f.authenticate("alice", "secret "), nullptr);
    EXPECT_EQ(f.authenticate("alice", std::string("secret\0junk", 11)), nullptr);
    EXPECT_EQ(f.authenticate("mallory", "secret"), nullptr);
    EXPECT_EQ(f.authenticate("", "secret"), nullptr);
}

TEST(users_file, make_sha512_hash_round_trips) {
    std::string h = make_sha512_hash("pa:ss w\xc3\xb6rd");
    EXPECT_EQ(h.rfind("$6$", 0), 0u) << h;
    EXPECT_EQ(h.find(':'), std::string::npos);
    EXPECT_NE(make_sha512_hash("pa:ss w\xc3\xb6rd"), h);  // fresh salt each time
    users_file f;
    std::string error;
    ASSERT_TRUE(f.parse("bob:" + h + ":/b\n", "users", "/", error)) << error;
    EXPECT_NE(f.authenticate("bob", "pa:ss w\xc3\xb6rd"), nullptr);
    EXPECT_EQ(f.authenticate("bob", "pa:ss word"), nullptr);
}

TEST(users_file, authenticates_yescrypt) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting))
        GTEST_SKIP() << "libxcrypt without yescrypt";
    crypt_data data{};
    const char* h = crypt_r("hunter2", setting, &data);
    ASSERT_NE(h, nullptr);
    ASSERT_EQ(std::string(h).rfind("$y$", 0), 0u);
    users_file f;
    std::string error;
    ASSERT_TRUE(f.parse("carol:" + std::string(h) + ":/c\n", "users", "/", error)) << error;
    EXPECT_NE(f.authenticate("carol", "hunter2"), nullptr);
    EXPECT_EQ(f.authenticate("carol", "hunter3"), nullptr);
    EXPECT_EQ(f.authenticate("dave", "hunter2"), nullptr);
}

TEST(users_file, load_from_disk) {
    char tmpl[] = "/tmp/ferry-auth-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    const std::string path = dir + "/users";
    {
        std::ofstream out(path);
        out << "# users\nalice:" << openssl_hash << ":alice\n";
    }
    ::chmod(path.c_str(), 0640);
    users_file f;
    std::string error;
    EXPECT_TRUE(f.load(path, dir, error)) << error;
    ASSERT_NE(f.find("alice"), nullptr);
    EXPECT_EQ(f.find("alice")->home, dir + "/alice");
    EXPECT_NE(f.authenticate("alice", "secret"), nullptr);

    {
        std::ofstream out(path, std::ios::app);
        out << "alice:" << openssl_hash << ":/x\n";
    }
    EXPECT_FALSE(f.load(path, dir, error));
    EXPECT_EQ(error, path + ":3: user \"alice\" is already defined on line 2");

    ::chmod(path.c_str(), 0646);
    EXPECT_FALSE(f.load(path, dir, error));
    EXPECT_EQ(error, path + ": is writable by everyone; run `chmod o-w " + path + "`");

    EXPECT_FALSE(f.load(dir + "/missing", dir, error));
    EXPECT_EQ(error, dir + "/missing: cannot open: No such file or directory");
    std::filesystem::remove_all(dir);
}
