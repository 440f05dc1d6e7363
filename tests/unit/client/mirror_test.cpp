#include "client/mirror.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

using namespace ferry::client;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> described(std::vector<tree_entry> v) {
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.path < b.path; });
    std::vector<std::string> out;
    for (auto& e : v)
        out.push_back(e.path + (e.type == tree_type::dir ? "/" : e.type == tree_type::symlink ? "@" : ""));
    return out;
}
}  // namespace

TEST(mirror_words, download_upload_and_options) {
    std::string error;
    auto r = parse_mirror_words({"remote dir", "local"}, error);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->upload);
    EXPECT_EQ(r->remote_root, "remote dir");
    EXPECT_EQ(r->local_root, "local");
    r = parse_mirror_words({"-R", "--delete", "--exclude", "*.o", "--include", "*.c", "-P", "4", "--verify", "--dry-run", "-c",
                            "src", "dst"},
                           error);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->upload && r->plan.delete_extra && r->verify && r->dry_run && r->plan.checksum);
    EXPECT_EQ(r->local_root, "src");
    EXPECT_EQ(r->remote_root, "dst");
    EXPECT_EQ(r->parallel, 4u);
    EXPECT_EQ(r->plan.exclude, std::vector<std::string>{"*.o"});
    EXPECT_EQ(r->plan.include, std::vector<std::string>{"*.c"});
}

TEST(mirror_words, bad_usage_is_refused_with_a_message) {
    std::string error;
    EXPECT_FALSE(parse_mirror_words({"only-one"}, error));
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(parse_mirror_words({"-P", "0", "a", "b"}, error));
    EXPECT_FALSE(parse_mirror_words({"-P", "x", "a", "b"}, error));
    EXPECT_FALSE(parse_mirror_words({"a", "b", "--exclude"}, error));
    EXPECT_FALSE(parse_mirror_words({"--frobnicate", "a", "b"}, error));
    EXPECT_NE(error.find("--frobnicate"), std::string::npos);
}

TEST(mirror_hash_reply, whole_file_sha256_only) {
    const std::string hex(64, 'a');
    EXPECT_EQ(parse_hash_reply(213, "SHA-256 0-10 " + hex + " f", 10), hex);
    EXPECT_EQ(parse_hash_reply(213, "SHA-256 0-9 " + std::string(64, 'A') + " f", 10), hex);  // inclusive end
    EXPECT_EQ(parse_hash_reply(213, "SHA-256 0-0 " + hex + " empty", 0), hex);
    EXPECT_FALSE(parse_hash_reply(213, "SHA-256 0-5 " + hex + " f", 10));   // a part of the file
    EXPECT_FALSE(parse_hash_reply(213, "SHA-1 0-10 " + hex + " f", 10));
    EXPECT_FALSE(parse_hash_reply(213, "SHA-256 0-10 abc f", 10));
    EXPECT_FALSE(parse_hash_reply(550, "SHA-256 0-10 " + hex + " f", 10));
}

TEST(mirror_walk_local, links_inside_are_followed_outside_ones_are_not) {
    temp_dir t("ferry-mirror");
    fs::create_directories(t.path / "tree/sub");
    fs::create_directories(t.path / "outside");
    std::ofstream(t.path / "tree/sub/f") << "x";
    std::ofstream(t.path / "outside/secret") << "s";
    fs::create_symlink("sub/f", t.path / "tree/in-file");
    fs::create_symlink("sub", t.path / "tree/in-dir");
    fs::create_symlink("../outside", t.path / "tree/out-dir");
    fs::create_symlink("../outside/secret", t.path / "tree/out-file");
    fs::create_symlink("..", t.path / "tree/sub/loop");
    std::vector<std::string> warnings;
    auto up = walk_local((t.path / "tree").string(), true, warnings);
    // in-dir is the same folder as sub: walked once; loop points at the root itself.
    auto got = described(up);
    EXPECT_TRUE(std::count(got.begin(), got.end(), "in-file") == 1);
    EXPECT_TRUE(std::count(got.begin(), got.end(), "out-dir@") == 1);
    EXPECT_TRUE(std::count(got.begin(), got.end(), "out-file@") == 1);
    for (auto& g : got) EXPECT_EQ(g.find("secret"), std::string::npos) << g;
    EXPECT_FALSE(warnings.empty());

    warnings.clear();
    auto down = walk_local((t.path / "tree").string(), false, warnings);
    EXPECT_EQ(described(down), (std::vector<std::string>{"in-dir@", "in-file@", "out-dir@", "out-file@", "sub/",
                                                         "sub/f", "sub/loop@"}));
}
