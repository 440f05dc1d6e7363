#include "proto/list_parse.hpp"

#include <gtest/gtest.h>

using namespace ferry::proto;

namespace {
std::int64_t t(const char* s) {
    std::int64_t v = 0;
    EXPECT_TRUE(parse_timeval(s, v)) << s;
    return v;
}
const std::int64_t now = t("20240301120000");

list_entry unix_line(const char* line) {
    auto e = parse_list_line(line, now);
    EXPECT_TRUE(e) << line;
    return e ? *e : list_entry{};
}
}  // namespace

TEST(list_parse, unix_vsftpd_style) {
    auto e = unix_line("-rw-r--r--    1 1000     1000         1234 Jan 02 03:04 file.txt");
    EXPECT_EQ(e.info.name, "file.txt");
    EXPECT_EQ(e.info.type, file_info::kind::file);
    EXPECT_EQ(e.info.size, 1234u);
    EXPECT_EQ(e.info.mode, 0644u);
    EXPECT_EQ(e.info.owner, "1000");
    EXPECT_EQ(e.info.group, "1000");
    EXPECT_TRUE(e.has_mtime);
    EXPECT_EQ(e.info.mtime, t("20240102030400"));
}

TEST(list_parse, unix_year_and_directory) {
    auto e = unix_line("drwxr-x---   12 ftp      ftp          4096 Jun 15  2019 pub");
    EXPECT_EQ(e.info.type, file_info::kind::dir);
    EXPECT_EQ(e.info.mode, 0750u);
    EXPECT_EQ(e.info.nlink, 12u);
    EXPECT_EQ(e.info.mtime, t("20190615000000"));
}

// "Dec 31 23:00" seen on 2024-03-01 is last December, not a date in the future.
TEST(list_parse, unix_time_without_year_is_in_the_past) {
    EXPECT_EQ(unix_line("-rw-r--r-- 1 a b 1 Dec 31 23:00 x").info.mtime, t("20231231230000"));
    EXPECT_EQ(unix_line("-rw-r--r-- 1 a b 1 Mar  1 11:00 x").info.mtime, t("20240301110000"));
    EXPECT_EQ(unix_line("-rw-r--r-- 1 a b 1 Mar  2 11:00 x").info.mtime, t("20240302110000"));  // clock skew
    EXPECT_EQ(unix_line("-rw-r--r-- 1 a b 1 Mar 20 11:00 x").info.mtime, t("20230320110000"));
}

TEST(list_parse, unix_names_with_spaces_links_and_specials) {
    EXPECT_EQ(unix_line("-rw-r--r--   1 u g 5 Jan  2 03:04 name with  spaces.txt").info.name, "name with  spaces.txt");
    EXPECT_EQ(unix_line("-rw-r--r--   1 u g 5 Jan  2 03:04  leading").info.name, " leading");
    auto l = unix_line("lrwxrwxrwx   1 root root    7 Jan  2 03:04 bin -> usr/bin");
    EXPECT_EQ(l.info.type, file_info::kind::link);
    EXPECT_EQ(l.info.name, "bin");
    EXPECT_EQ(l.link_target, "usr/bin");
    auto c = unix_line("crw-rw-rw-   1 root tty   5,   0 Jan  2 03:04 tty");
    EXPECT_EQ(c.info.type, file_info::kind::other);
    EXPECT_EQ(c.info.name, "tty");
    auto s = unix_line("-rwsr-xr-t   1 root root 100 Jan  2 03:04 suid");
    EXPECT_EQ(s.info.mode, 05755u);
    auto acl = unix_line("-rw-r--r--+  1 u g 5 Jan  2 03:04 acl");
    EXPECT_EQ(acl.info.name, "acl");
}

TEST(list_parse, unix_variants_without_group_or_links) {
    auto e = unix_line("-rw-r--r-- 1 owner 123 Jan  1  2020 x");  // no group column
    EXPECT_EQ(e.info.size, 123u);
    EXPECT_EQ(e.info.owner, "owner");
    auto f = unix_line("-rw-r--r-- owner group 77 Jan  1  2020 y");  // no link count
    EXPECT_EQ(f.info.size, 77u);
    EXPECT_EQ(f.info.owner, "owner");
    EXPECT_EQ(f.info.group, "group");
    auto big = unix_line("-rw-r--r-- 1 u g 10737418240 Jan  1  2020 10g");
    EXPECT_EQ(big.info.size, 10737418240u);
}

TEST(list_parse, windows_iis_lines) {
    auto d = parse_list_line("01-02-24  03:04PM       <DIR>          My Folder", now);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->info.type, file_info::kind::dir);
    EXPECT_EQ(d->info.name, "My Folder");
    EXPECT_EQ(d->info.mtime, t("20240102150400"));
    auto f = parse_list_line("11-23-2026  12:05AM             10485760 big file.bin", now);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->info.type, file_info::kind::file);
    EXPECT_EQ(f->info.size, 10485760u);
    EXPECT_EQ(f->info.name, "big file.bin");
    EXPECT_EQ(f->info.mtime, t("20261123000500"));
    auto h24 = parse_list_line("07-04-1999  17:30  1,234 old.txt", now);
    ASSERT_TRUE(h24);
    EXPECT_EQ(h24->info.size, 1234u);
    EXPECT_EQ(h24->info.mtime, t("19990704173000"));
}

TEST(list_parse, rejects_other_lines) {
    EXPECT_FALSE(parse_list_line("", now));
    EXPECT_FALSE(parse_list_line("total 12", now));
    EXPECT_FALSE(parse_list_line("hello world", now));
    EXPECT_FALSE(parse_list_line("-rw-r--r-- 1 u g x Jan  1  2020 bad-size", now));
    EXPECT_FALSE(parse_list_line("13-45-24  03:04PM  <DIR>  bad date", now));
    EXPECT_FALSE(parse_list_line("-rw-r--r-- 1 u g 5 Foo  1  2020 bad-month", now));
}

TEST(list_parse, mlsd_lines) {
    auto e = parse_mlsx_line("type=file;size=1234;modify=20240102030405;UNIX.mode=0640;perm=rw; my file.txt");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->info.name, "my file.txt");
    EXPECT_EQ(e->info.type, file_info::kind::file);
    EXPECT_EQ(e->info.size, 1234u);
    EXPECT_EQ(e->info.mode, 0640u);
    EXPECT_EQ(e->info.mtime, t("20240102030405"));
    EXPECT_TRUE(e->has_mtime);
    auto d = parse_mlsx_line("Type=dir;Modify=20240102030405.123;Perm=flcdmpe; sub");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->info.type, file_info::kind::dir);
    EXPECT_EQ(d->info.mtime, t("20240102030405"));
    auto c = parse_mlsx_line("type=cdir;modify=20240102030405; /home/alice");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->self_or_parent);
    EXPECT_TRUE(parse_mlsx_line("type=pdir; ..")->self_or_parent);
    auto l = parse_mlsx_line("type=OS.unix=symlink;size=7; link");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->info.type, file_info::kind::link);
    auto m = parse_mlsx_line(" type=file;size=3; from-mlst");  // MLST indents by one space
    ASSERT_TRUE(m);
    EXPECT_EQ(m->info.name, "from-mlst");
    EXPECT_FALSE(parse_mlsx_line("no-facts-or-space"));
}

TEST(list_parse, mlsx_round_trip_with_server_format) {
    file_info f;
    f.name = "round trip.bin";
    f.size = 42;
    f.mode = 0600;
    f.mtime = t("20230405060708");
    mlst_facts facts;
    auto e = parse_mlsx_line(format_mlsx(f, facts));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->info.name, f.name);
    EXPECT_EQ(e->info.size, f.size);
    EXPECT_EQ(e->info.mode, f.mode);
    EXPECT_EQ(e->info.mtime, f.mtime);
    auto l = parse_list_line(format_list_line(f, now), now);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->info.name, f.name);
    EXPECT_EQ(l->info.size, f.size);
}

TEST(list_parse, whole_listing) {
    auto l = parse_listing("total 8\r\n"
                           "drwxr-xr-x 2 u g 4096 Jan  2 03:04 .\r\n"
                           "drwxr-xr-x 2 u g 4096 Jan  2 03:04 ..\r\n"
                           "-rw-r--r-- 1 u g 5 Jan  2 03:04 a.txt\r\n"
                           "garbage line\n"
                           "\n",
                           false, now);
    ASSERT_EQ(l.entries.size(), 3u);
    EXPECT_TRUE(l.entries[0].self_or_parent);
    EXPECT_EQ(l.entries[2].info.name, "a.txt");
    ASSERT_EQ(l.unparsed.size(), 1u);
    EXPECT_EQ(l.unparsed[0], "garbage line");
    auto m = parse_listing("type=file;size=1; a\r\ntype=dir; b\r\n", true, now);
    ASSERT_EQ(m.entries.size(), 2u);
    EXPECT_EQ(m.entries[1].info.type, file_info::kind::dir);
}
