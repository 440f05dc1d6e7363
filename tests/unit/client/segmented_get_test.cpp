// split_ranges and range_sink: the sans-I/O parts of ferry get --segments.
#include "client/segmented_get.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

using ferry::client::byte_range;
using ferry::client::range_sink;
using ferry::client::split_ranges;

TEST(SplitRanges, CoversTheFileExactlyInOrder) {
    for (std::uint64_t size : {0ull, 1ull, 5ull << 20, (100ull << 20) + 3}) {
        for (unsigned n : {1u, 3u, 4u, 16u}) {
            auto r = split_ranges(size, n, 1 << 20);
            ASSERT_FALSE(r.empty());
            EXPECT_LE(r.size(), n);
            EXPECT_EQ(r.front().start, 0u);
            EXPECT_EQ(r.back().end, size);
            for (std::size_t i = 1; i < r.size(); ++i) EXPECT_EQ(r[i].start, r[i - 1].end);
        }
    }
}

TEST(SplitRanges, SmallFilesAreNotCutIntoSlivers) {
    EXPECT_EQ(split_ranges(3 << 20, 8, 1 << 20).size(), 3u);
    EXPECT_EQ(split_ranges(1000, 4, 1 << 20), (std::vector<byte_range>{{0, 1000}}));
    EXPECT_EQ(split_ranges(10, 3, 1), (std::vector<byte_range>{{0, 4}, {4, 7}, {7, 10}}));
}

TEST(RangeSink, WritesInPlaceAndRefusesBytesPastItsEnd) {
    char path[] = "/tmp/ferry-ranges-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    ASSERT_EQ(::ftruncate(fd, 10), 0);
    std::string error;
    range_sink second(fd, {5, 10});
    EXPECT_TRUE(second.write("FGH", 3, error));
    EXPECT_FALSE(second.complete());
    EXPECT_FALSE(second.write("IJK", 3, error));  // one byte too many: nothing written
    EXPECT_NE(error.find("RANG"), std::string::npos);
    EXPECT_TRUE(second.write("IJ", 2, error));
    EXPECT_TRUE(second.complete());
    range_sink first(fd, {0, 5});
    EXPECT_TRUE(first.write("ABCDE", 5, error));
    char back[11] = {};
    ASSERT_EQ(::pread(fd, back, 10, 0), 10);
    EXPECT_STREQ(back, "ABCDEFGHIJ");
    ::close(fd);
}
