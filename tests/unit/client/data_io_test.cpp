#include "client/data_io.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.hpp"

using namespace ferry::client;
namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
}  // namespace

TEST(download_file, replaces_the_target_only_on_commit) {
    temp_dir d("ferry-io");
    fs::path target = d.path / "file.txt";
    write(target, "old content");
    download_file f;
    std::uint64_t offset = 99;
    ASSERT_TRUE(f.open(target.string(), false, offset));
    EXPECT_EQ(offset, 0u);
    std::string err;
    ASSERT_TRUE(f.write("new", 3, err));
    EXPECT_EQ(slurp(target), "old content");  // untouched while downloading
    ASSERT_TRUE(f.commit());
    EXPECT_EQ(slurp(target), "new");
    EXPECT_FALSE(fs::exists(download_file::part_name(target.string())));
}

TEST(download_file, failed_download_keeps_old_file_and_partial_data) {
    temp_dir d("ferry-io");
    fs::path target = d.path / "file.txt";
    write(target, "old content");
    {
        download_file f;
        std::uint64_t offset;
        ASSERT_TRUE(f.open(target.string(), false, offset));
        std::string err;
        ASSERT_TRUE(f.write("partial", 7, err));
        std::string note = f.abandon();
        EXPECT_NE(note.find(".ferry-part"), std::string::npos);
    }
    EXPECT_EQ(slurp(target), "old content");
    EXPECT_EQ(slurp(download_file::part_name(target.string())), "partial");
    // -c continues the partial file
    download_file r;
    std::uint64_t offset = 0;
    ASSERT_TRUE(r.open(target.string(), true, offset));
    EXPECT_EQ(offset, 7u);
    std::string err;
    ASSERT_TRUE(r.write(" rest", 5, err));
    ASSERT_TRUE(r.commit());
    EXPECT_EQ(slurp(target), "partial rest");
}

TEST(download_file, empty_partial_is_removed) {
    temp_dir d("ferry-io");
    fs::path target = d.path / "nothing.bin";
    download_file f;
    std::uint64_t offset;
    ASSERT_TRUE(f.open(target.string(), false, offset));
    EXPECT_EQ(f.abandon(), "");
    EXPECT_FALSE(fs::exists(download_file::part_name(target.string())));
    EXPECT_FALSE(fs::exists(target));
}

TEST(download_file, resume_continues_a_partial_target) {
    temp_dir d("ferry-io");
    fs::path target = d.path / "big.bin";
    write(target, "12345");
    download_file f;
    std::uint64_t offset = 0;
    ASSERT_TRUE(f.open(target.string(), true, offset));
    EXPECT_EQ(offset, 5u);
    std::string err;
    ASSERT_TRUE(f.write("678", 3, err));
    ASSERT_TRUE(f.commit());
    EXPECT_EQ(slurp(target), "12345678");
}

TEST(download_file, folder_target_is_refused) {
    temp_dir d("ferry-io");
    download_file f;
    std::uint64_t offset;
    auto o = f.open(d.path.string(), false, offset);
    EXPECT_FALSE(o);
    EXPECT_NE(o.message.find("folder"), std::string::npos);
}

TEST(upload_file, offset_and_size) {
    temp_dir d("ferry-io");
    fs::path p = d.path / "up.txt";
    write(p, "abcdef");
    upload_file f;
    ASSERT_TRUE(f.open(p.string(), 4));
    EXPECT_EQ(f.size(), 6u);
    char buf[16];
    std::string err;
    EXPECT_EQ(f.read(buf, sizeof buf, err), 2);
    EXPECT_EQ(std::string(buf, 2), "ef");
    upload_file g;
    EXPECT_FALSE(g.open(p.string(), 7));
    upload_file h;
    EXPECT_FALSE(h.open((d.path / "missing").string(), 0));
}
