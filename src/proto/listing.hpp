#pragma once
// Directory listing formats: MLSx facts (RFC 3659 section 7) and `ls -l` style LIST lines.
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::proto {

struct file_info {
    enum class kind { file, dir, link, other };
    std::string name;
    kind type = kind::file;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;  // seconds since the epoch, UTC
    std::uint32_t mode = 0;  // POSIX permission bits (07777)
    std::uint32_t nlink = 1;
    std::string owner = "ftp";
    std::string group = "ftp";
    bool readable = true;    // for the MLSx perm fact, as seen by the logged-in user
    bool writable = true;
};

// The facts a client asked for with OPTS MLST (lower-case names); all known facts by default.
struct mlst_facts {
    bool type = true, size = true, modify = true, perm = true, unix_mode = true;
    // Applies "OPTS MLST type;size;" and returns the accepted list for the reply ("type;size;").
    std::string select(std::string_view requested);
    // FEAT line: "MLST type*;size*;modify*;perm*;UNIX.mode*;"
    std::string feat_line() const;
};

// One MLSD line / MLST fact line: "type=file;size=3;modify=20240102030405;perm=r; name"
// cdir/pdir naming for "." and "..", as RFC 3659 section 7.5.1 says.
std::string format_mlsx(const file_info& f, const mlst_facts& facts);
// "-rw-r--r--   1 ftp      ftp          1234 Jan 02 03:04 name" (year instead of time for
// files older than six months, like ls -l). now = current time for that rule.
std::string format_list_line(const file_info& f, std::int64_t now);
// "YYYYMMDDHHMMSS" (MDTM, modify fact), UTC
std::string format_timeval(std::int64_t t);
// parses "YYYYMMDDHHMMSS[.sss]" (MDTM replies, MFMT arguments)
bool parse_timeval(std::string_view s, std::int64_t& out);

}  // namespace ferry::proto
