// compute_file_digest: ranges, refusals, and a cache that answers for unchanged files only.
#include "server/file_digests.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>

#include "temp_dir.hpp"

using namespace ferry;
using server::compute_file_digest;
using server::end_past_file;
using tls::digest_algorithm;

namespace {

void write_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

struct fixture : ::testing::Test {
    temp_dir dir{"ferry-digests"};
    vfs::root fs;
    server::digest_cache cache;
    void SetUp() override {
        std::error_code ec;
        fs = vfs::root::open(dir.path.string(), ec);
        ASSERT_FALSE(ec) << ec.message();
    }
    server::file_digest_result hash(const std::string& p, std::uint64_t start = 0,
                                    std::optional<std::uint64_t> end = std::nullopt,
                                    end_past_file past = end_past_file::refuse) {
        return compute_file_digest(fs, p, digest_algorithm::md5, start, end, past, cache);
    }
};

}  // namespace

TEST_F(fixture, WholeFileAndRange) {
    write_file(dir.path / "f", "abc");
    auto r = hash("/f");
    ASSERT_FALSE(r.ec);
    EXPECT_EQ(r.hex, "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(r.start, 0u);
    EXPECT_EQ(r.end, 3u);
    EXPECT_FALSE(r.cached);
    r = hash("/f", 1, 2);
    EXPECT_EQ(r.hex, "92eb5ffee6ae2fec3ad71c777531578f");  // md5("b")
    EXPECT_EQ(hash("/f", 0, 9).ec, std::errc::invalid_argument);
    r = hash("/f", 1, 9, end_past_file::clip);
    EXPECT_EQ(r.end, 3u);
    EXPECT_EQ(hash("/f", 3, 3).ec, std::errc::invalid_argument);
}

TEST_F(fixture, EmptyFileHasADigest) {
    write_file(dir.path / "empty", "");
    auto r = hash("/empty");
    ASSERT_FALSE(r.ec);
    EXPECT_EQ(r.hex, "d41d8cd98f00b204e9800998ecf8427e");
}

TEST_F(fixture, FoldersAndMissingFilesAreRefused) {
    std::filesystem::create_directory(dir.path / "d");
    EXPECT_TRUE(hash("/d").not_a_file);
    EXPECT_EQ(hash("/none").ec, std::errc::no_such_file_or_directory);
    EXPECT_TRUE(hash("/../etc/passwd").ec);  // confined like every other path
}

TEST_F(fixture, CacheAnswersUnchangedFilesAndForgetsChangedOnes) {
    write_file(dir.path / "f", "abc");
    EXPECT_FALSE(hash("/f").cached);
    EXPECT_TRUE(hash("/f").cached);
    // Same size and the old modification time put back: the change time still differs.
    struct stat st {};
    ASSERT_EQ(::stat((dir.path / "f").c_str(), &st), 0);
    write_file(dir.path / "f", "xyz");
    const timespec times[2] = {st.st_atim, st.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, (dir.path / "f").c_str(), times, 0), 0);
    auto r = hash("/f");
    EXPECT_FALSE(r.cached);
    EXPECT_EQ(r.hex, "d16fb36f0911f878998c136191af705e");  // md5("xyz")
}

TEST(DigestCache, KeepsTheMostRecentlyUsed) {
    server::digest_cache cache(2);
    auto key = [](ino_t ino) { return server::digest_cache::key{{1, ino, 3, 0, 0}, digest_algorithm::md5, 0, 3}; };
    cache.store(key(1), "one");
    cache.store(key(2), "two");
    EXPECT_EQ(cache.find(key(1)), "one");  // 1 is now the most recent
    cache.store(key(3), "three");          // evicts 2
    EXPECT_FALSE(cache.find(key(2)));
    EXPECT_EQ(cache.find(key(1)), "one");
    EXPECT_EQ(cache.find(key(3)), "three");
}
