// The xferlog line (xferlog(5), as wu-ftpd and vsftpd write it), field by field.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "temp_dir.hpp"
#include "server/line_log.hpp"
#include "server/xferlog.hpp"

using ferry::server::format_xferlog_line;
using ferry::server::xferlog_entry;

namespace {

xferlog_entry sample() {
    xferlog_entry e;
    e.when.tm_year = 2026 - 1900;
    e.when.tm_mon = 11;
    e.when.tm_mday = 6;
    e.when.tm_wday = 0;
    e.when.tm_hour = 0;
    e.when.tm_min = 38;
    e.when.tm_sec = 48;
    e.seconds = 2.4;
    e.remote_host = "127.0.0.1";
    e.bytes = 1048576;
    e.filename = "/upload/report.pdf";
    e.ascii = false;
    e.incoming = true;
    e.user = "alice";
    e.complete = true;
    return e;
}

}  // namespace

// The whole line: ctime date (day padded by a space), seconds, host, size, name, b _ i r user ftp 0 * c.
TEST(Xferlog, CompleteUpload) {
    EXPECT_EQ(format_xferlog_line(sample()),
              "Sun Dec  6 00:38:48 2026 2 127.0.0.1 1048576 /upload/report.pdf b _ i r alice ftp 0 * c");
}

// Download, ASCII, incomplete, two-digit day; a transfer under a second counts 1 s (as vsftpd).
TEST(Xferlog, IncompleteAsciiDownload) {
    auto e = sample();
    e.when.tm_mday = 16;
    e.when.tm_wday = 3;
    e.when.tm_mon = 0;
    e.seconds = 0.01;
    e.ascii = true;
    e.incoming = false;
    e.complete = false;
    e.bytes = 0;
    EXPECT_EQ(format_xferlog_line(e), "Wed Jan 16 00:38:48 2026 1 127.0.0.1 0 /upload/report.pdf a _ o r alice ftp 0 * i");
}

// SECURITY: spaces become '_' as in vsftpd, and newlines and control characters too: one line, 18 fields.
TEST(Xferlog, NoSpacesOrNewlinesInFields) {
    auto e = sample();
    e.filename = "/my file\nFake line\t.txt";
    const auto line = format_xferlog_line(e);
    EXPECT_NE(line.find(" /my_file_Fake_line_.txt "), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
    std::istringstream in(line);
    std::string w;
    int n = 0;
    while (in >> w) ++n;
    EXPECT_EQ(n, 18);  // 5 date words + 13 fields
}

// The writer appends lines; open() again switches to a new file (logrotate moved the old one).
TEST(Xferlog, WriterAppendsAndReopens) {
    temp_dir d;
    ferry::server::line_log w;
    std::string error;
    EXPECT_FALSE(w.enabled());
    ASSERT_TRUE(w.open((d.path / "xferlog").string(), "transfer log", error)) << error;
    w.write(format_xferlog_line(sample()));
    std::filesystem::rename(d.path / "xferlog", d.path / "xferlog.1");
    ASSERT_TRUE(w.open((d.path / "xferlog").string(), "transfer log", error)) << error;
    w.write(format_xferlog_line(sample()));
    w.write(format_xferlog_line(sample()));
    auto lines = [](const std::filesystem::path& p) {
        std::ifstream in(p);
        std::string l;
        int n = 0;
        while (std::getline(in, l)) ++n;
        return n;
    };
    EXPECT_EQ(lines(d.path / "xferlog.1"), 1);
    EXPECT_EQ(lines(d.path / "xferlog"), 2);
    EXPECT_FALSE(w.open((d.path / "missing" / "xferlog").string(), "transfer log", error));
    w.write(format_xferlog_line(sample()));  // the failed open kept the current file
    EXPECT_EQ(lines(d.path / "xferlog"), 3);
}
