#pragma once
// Client side of directory listings: MLSD/MLST fact lines (RFC 3659 section 7) and the LIST
// formats servers really send (Unix `ls -l` in its variants, Windows/IIS "DOS" lines). Sans-I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/listing.hpp"

namespace ferry::proto {

struct list_entry {
    file_info info;
    std::string link_target;      // "name -> target" in a Unix LIST line
    bool has_mtime = false;       // the line carried a usable time
    bool self_or_parent = false;  // "." / ".." / MLSD cdir and pdir: callers usually skip these
};

// "type=file;size=3;modify=20240102030405;UNIX.mode=0644; name". Fact names are case-insensitive.
std::optional<list_entry> parse_mlsx_line(std::string_view line);
// One LIST line. now (seconds since the epoch, UTC) picks the year of "Jan  2 03:04" dates:
// the most recent one that is not in the future (one day of clock skew allowed).
std::optional<list_entry> parse_list_line(std::string_view line, std::int64_t now);

struct listing {
    std::vector<list_entry> entries;
    std::vector<std::string> unparsed;  // lines in no known format ("total 12" is dropped silently)
};
// A whole listing as received (CR LF or LF line ends).
listing parse_listing(std::string_view text, bool mlsd, std::int64_t now);

}  // namespace ferry::proto
