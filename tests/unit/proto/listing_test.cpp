#include "proto/listing.hpp"

#include <gtest/gtest.h>

using namespace ferry::proto;

namespace {
std::int64_t t(const char* s) {
    std::int64_t v = 0;
    EXPECT_TRUE(parse_timeval(s, v)) << s;
    return v;
}
file_info file(std::string name, std::uint64_t size, std::uint32_t mode, std::int64_t mtime) {
    file_info f;
    f.name = std::move(name);
    f.size = size;
    f.mode = mode;
    f.mtime = mtime;
    return f;
}
}  // namespace

TEST(timeval, format) {
    EXPECT_EQ(format_timeval(0), "19700101000000");
    EXPECT_EQ(format_timeval(951782400), "20000229000000");
    EXPECT_EQ(format_timeval(1704164645), "20240102030405");
    EXPECT_EQ(format_timeval(-1), "19691231235959");
}

TEST(timeval, parse) {
    std::int64_t v = 0;
    ASSERT_TRUE(parse_timeval("20240102030405", v));
    EXPECT_EQ(v, 1704164645);
    ASSERT_TRUE(parse_timeval("20240102030405.123", v));
    EXPECT_EQ(v, 1704164645);
    ASSERT_TRUE(parse_timeval("19700101000000", v));
    EXPECT_EQ(v, 0);
    ASSERT_TRUE(parse_timeval("20000229000000", v));
    EXPECT_EQ(v, 951782400);
    ASSERT_TRUE(parse_timeval("19691231235959", v));
    EXPECT_EQ(v, -1);
}

TEST(timeval, parse_rejects) {
    std::int64_t v = 42;
    for (const char* s : {"", "2024010203040", "202401020304051", "20240102030405.", "20240102030405.x",
                          "20240102030405,1", " 20240102030405", "2024010203040a", "20231301000000",
                          "20230001000000", "20230100000000", "20230229000000", "21000229000000",
                          "20230431000000", "20230101240000", "20230101006000", "20230101000061",
                          "+2023010100000"}) {
        EXPECT_FALSE(parse_timeval(s, v)) << s;
    }
    EXPECT_EQ(v, 42);  // untouched on failure
}

TEST(timeval, round_trip) {
    for (std::int64_t x : {std::int64_t{0}, std::int64_t{86399}, std::int64_t{1700000000},
                           std::int64_t{4102444800}, std::int64_t{-86400 * 365}}) {
        std::int64_t y = 0;
        ASSERT_TRUE(parse_timeval(format_timeval(x), y));
        EXPECT_EQ(x, y);
    }
}

TEST(mlsx, file_all_facts) {
    auto f = file("report.txt", 1234, 0644, t("20240102030405"));
    EXPECT_EQ(format_mlsx(f, {}),
              "type=file;size=1234;modify=20240102030405;perm=adfrw;UNIX.mode=0644; report.txt");
}

TEST(mlsx, read_only_file_and_name_with_spaces) {
    auto f = file("my file ", 0, 0444, 0);
    f.writable = false;
    EXPECT_EQ(format_mlsx(f, {}), "type=file;size=0;modify=19700101000000;perm=r;UNIX.mode=0444; my file ");
}

TEST(mlsx, directories) {
    auto d = file("sub", 4096, 0755, 0);
    d.type = file_info::kind::dir;
    mlst_facts facts;
    facts.modify = false;
    EXPECT_EQ(format_mlsx(d, facts), "type=dir;perm=cdeflmp;UNIX.mode=0755; sub");  // no size for dirs
    d.writable = false;
    EXPECT_EQ(format_mlsx(d, facts), "type=dir;perm=el;UNIX.mode=0755; sub");
    d.name = ".";
    EXPECT_EQ(format_mlsx(d, facts), "type=cdir;perm=el;UNIX.mode=0755; .");
    d.name = "..";
    EXPECT_EQ(format_mlsx(d, facts), "type=pdir;perm=el;UNIX.mode=0755; ..");
}

TEST(mlsx, link_and_special_mode_bits) {
    auto l = file("ln", 7, 04755, 0);
    l.type = file_info::kind::link;
    mlst_facts facts;
    facts.modify = facts.perm = false;
    EXPECT_EQ(format_mlsx(l, facts), "type=OS.unix=symlink;UNIX.mode=4755; ln");
}

TEST(mlsx, selected_facts_only) {
    auto f = file("a", 3, 0600, 0);
    mlst_facts facts;
    EXPECT_EQ(facts.select("size;TYPE;"), "type;size;");
    EXPECT_EQ(format_mlsx(f, facts), "type=file;size=3; a");
    EXPECT_EQ(facts.select(""), "");
    EXPECT_EQ(format_mlsx(f, facts), " a");  // the space before the name is always there
}

TEST(mlsx, name_with_newline_cannot_inject_lines) {
    auto f = file("evil\r\n226 done", 1, 0644, 0);
    mlst_facts facts;
    facts.select("type;");
    EXPECT_EQ(format_mlsx(f, facts), "type=file; evil??226 done");
}

TEST(mlst_facts, select_is_case_insensitive_and_ignores_unknown) {
    mlst_facts facts;
    EXPECT_EQ(facts.select("Type;sIzE;unique;media-type;unix.MODE;"), "type;size;UNIX.mode;");
    EXPECT_TRUE(facts.type);
    EXPECT_TRUE(facts.size);
    EXPECT_FALSE(facts.modify);
    EXPECT_FALSE(facts.perm);
    EXPECT_TRUE(facts.unix_mode);
    EXPECT_EQ(facts.select("modify"), "modify;");  // trailing ';' optional in the request
    EXPECT_EQ(facts.select("perm;;modify;"), "modify;perm;");
    EXPECT_EQ(facts.select("bogus;"), "");
}

TEST(mlst_facts, feat_line_marks_enabled) {
    mlst_facts facts;
    EXPECT_EQ(facts.feat_line(), "MLST type*;size*;modify*;perm*;UNIX.mode*;");
    facts.select("type;modify;");
    EXPECT_EQ(facts.feat_line(), "MLST type*;size;modify*;perm;UNIX.mode;");
}

TEST(list_line, vsftpd_layout_recent_file) {
    const auto now = t("20240615120000");
    auto f = file("name", 1234, 0644, t("20240102030405"));
    EXPECT_EQ(format_list_line(f, now), "-rw-r--r--    1 ftp      ftp          1234 Jan 02 03:04 name");
}

TEST(list_line, old_file_shows_year) {
    const auto now = t("20240615120000");
    auto f = file("old", 5, 0600, t("20231201000000"));
    EXPECT_EQ(format_list_line(f, now), "-rw-------    1 ftp      ftp             5 Dec 01  2023 old");
}

TEST(list_line, six_month_boundary_and_future) {
    const auto now = t("20240615120000");
    const std::int64_t six_months = 15778476;
    auto f = file("x", 0, 0644, now - six_months + 1);
    EXPECT_NE(format_list_line(f, now).find(":"), std::string::npos);
    f.mtime = now - six_months;
    EXPECT_NE(format_list_line(f, now).find("  2023 x"), std::string::npos);
    f.mtime = now + 60;  // a little clock skew: still shown as recent
    EXPECT_NE(format_list_line(f, now).find("Jun 15 12:01 x"), std::string::npos);
    f.mtime = now + 86400 * 30;  // far future: year, like ls
    EXPECT_NE(format_list_line(f, now).find("Jul 15  2024 x"), std::string::npos);
}

TEST(list_line, directory_link_and_mode_letters) {
    const auto now = t("20240615120000");
    auto d = file("pub", 4096, 01777, t("20240610080910"));
    d.type = file_info::kind::dir;
    d.nlink = 12;
    d.owner = "root";
    d.group = "wheel";
    EXPECT_EQ(format_list_line(d, now), "drwxrwxrwt   12 root     wheel        4096 Jun 10 08:09 pub");

    auto l = file("ln -> x", 1, 0777, t("20240610080910"));
    l.type = file_info::kind::link;
    EXPECT_EQ(format_list_line(l, now).substr(0, 10), "lrwxrwxrwx");

    auto s = file("s", 1, 06754, 0);
    EXPECT_EQ(format_list_line(s, now).substr(0, 10), "-rwsr-sr--");
    s.mode = 07644;
    EXPECT_EQ(format_list_line(s, now).substr(0, 10), "-rwSr-Sr-T");
    s.mode = 0;
    EXPECT_EQ(format_list_line(s, now).substr(0, 10), "----------");
}

TEST(list_line, wide_fields_grow) {
    const auto now = t("20240615120000");
    auto f = file("big", 123456789012ull, 0644, t("20200229235959"));
    f.owner = "averylongowner";
    f.nlink = 123456;
    EXPECT_EQ(format_list_line(f, now),
              "-rw-r--r-- 123456 averylongowner ftp      123456789012 Feb 29  2020 big");
}

TEST(list_line, english_months) {
    const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int m = 1; m <= 12; ++m) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "2001%02d15000000", m);
        auto line = format_list_line(file("f", 0, 0644, t(buf)), t("20240615120000"));
        EXPECT_NE(line.find(std::string(months[m - 1]) + " 15  2001 f"), std::string::npos) << line;
    }
}
