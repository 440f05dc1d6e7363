#include "client/listing_format.hpp"

#include <gtest/gtest.h>

using namespace ferry;
using namespace ferry::client;

TEST(long_line, file_with_time) {
    proto::list_entry e;
    e.info.name = "report.csv";
    e.info.size = 1234;
    e.info.mode = 0644;
    e.info.mtime = 1704164640;  // 2024-01-02 03:04 UTC
    e.has_mtime = true;
    EXPECT_EQ(long_line(e), "-rw-r--r--           1234 2024-01-02 03:04 report.csv");
}

TEST(long_line, folder_link_and_unknown_time) {
    proto::list_entry d;
    d.info.name = "sub";
    d.info.type = proto::file_info::kind::dir;
    d.info.mode = 0750;
    EXPECT_EQ(long_line(d), "drwxr-x---              0                  sub");

    proto::list_entry l;
    l.info.name = "latest";
    l.info.type = proto::file_info::kind::link;
    l.info.mode = 0777;
    l.info.size = 18446744073709551615ull;
    l.link_target = "v2";
    EXPECT_EQ(long_line(l), "lrwxrwxrwx 18446744073709551615                  latest -> v2");

    proto::list_entry o;
    o.info.name = "fifo";
    o.info.type = proto::file_info::kind::other;
    EXPECT_EQ(long_line(o).substr(0, 10), "?---------");
}

TEST(human_bytes, binary_units) {
    EXPECT_EQ(human_bytes(0), "0 B");
    EXPECT_EQ(human_bytes(1023), "1023 B");
    EXPECT_EQ(human_bytes(1024), "1.0 KiB");
    EXPECT_EQ(human_bytes(4.5 * 1024 * 1024), "4.5 MiB");
    EXPECT_EQ(human_bytes(3.0 * 1024 * 1024 * 1024 * 1024 * 1024), "3072.0 TiB");
}

TEST(human_rate, per_second_and_zero_duration) {
    EXPECT_EQ(human_rate(10 * 1024 * 1024, 2.0), "5.0 MiB/s");
    EXPECT_EQ(human_rate(1, 0.0), "1000 B/s");  // counted as a millisecond
}
