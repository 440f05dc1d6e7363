// proto::parse_listing on a hostile server's LIST or MLSD text (the first byte picks which).
// Invariants: every line gives at most one entry or one unparsed line; an entry has a non-empty
// name with no line end in it (the client builds local file names from it); "." and ".." are
// always marked self_or_parent (so `mget` never walks up); permission bits stay within 07777.
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "proto/list_parse.hpp"

using ferry::fuzz::show;
using namespace ferry::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool mlsd = data[0] & 1;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    constexpr std::int64_t now = 1767225600;  // 2026-01-01T00:00:00Z: a fixed clock keeps runs reproducible
    const listing l = parse_listing(text, mlsd, now);

    std::size_t lines = 0;
    for (std::size_t pos = 0; pos < text.size(); ++lines) {
        auto eol = text.find('\n', pos);
        pos = eol == std::string_view::npos ? text.size() : eol + 1;
    }
    FUZZ_CHECK(l.entries.size() + l.unparsed.size() <= lines,
               "more results than lines in " + show(text));
    for (const auto& e : l.entries) {
        const std::string& name = e.info.name;
        FUZZ_CHECK(!name.empty(), "an entry without a name from " + show(text));
        FUZZ_CHECK(name.find('\n') == std::string::npos, "a line end inside the name " + show(name));
        if (name == "." || name == "..") FUZZ_CHECK(e.self_or_parent, "not marked self_or_parent: " + show(name));
        FUZZ_CHECK(e.info.mode <= 07777, "mode beyond 07777 for " + show(name));
    }
    for (const auto& u : l.unparsed) FUZZ_CHECK(u.find('\n') == std::string::npos, "unparsed " + show(u));
    return 0;
}
