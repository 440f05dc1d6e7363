// proto::parse_timeval ("YYYYMMDDHHMMSS[.sss]") with a round trip through format_timeval.
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "proto/listing.hpp"

using ferry::fuzz::show;
using namespace ferry::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    std::int64_t t = 12345;
    if (!parse_timeval(in, t)) {
        FUZZ_CHECK(t == 12345, "output written on failure for " + show(in));
        return 0;
    }
    FUZZ_CHECK(in.size() >= 14, "accepted short " + show(in));
    for (std::size_t i = 0; i < 14; ++i) FUZZ_CHECK(in[i] >= '0' && in[i] <= '9', "non-digit accepted " + show(in));
    if (in.size() > 14) FUZZ_CHECK(in[14] == '.' && in.size() > 15, "bad fraction accepted " + show(in));

    const std::string f = format_timeval(t);
    FUZZ_CHECK(f.size() == 14, "formatted " + show(f) + " from " + show(in));
    std::int64_t t2 = 0;
    FUZZ_CHECK(parse_timeval(f, t2) && t2 == t, "round trip " + show(in) + " -> " + show(f));
    // Apart from a leap second (":60", counted as the next minute), the text comes back unchanged.
    if (in.substr(12, 2) != "60")
        FUZZ_CHECK(f == in.substr(0, 14), "format(parse(" + show(in) + ")) = " + show(f));
    // A fraction is ignored: whole seconds only.
    std::int64_t whole = 0;
    FUZZ_CHECK(parse_timeval(in.substr(0, 14), whole) && whole == t, "fraction changed the value " + show(in));
    return 0;
}
