// proto::line_reader: random bytes fed in random chunks. Invariants:
//  - a returned line is never longer than max_line and holds no LF (bounded memory: the reader
//    never hands out, or keeps, more than max_line + 2 bytes of an unterminated line);
//  - the sequence of results (lines and too_long) does not depend on how the bytes were chunked;
//  - it equals a plain reference model of RFC 959 Telnet/line framing.
// Input: [max_line selector][chunking seed][stream bytes...]
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/line_reader.hpp"

using ferry::fuzz::show;
using ferry::proto::line_reader;

namespace {

using result = std::optional<std::string>;  // nullopt = too_long

// Reference: decode Telnet (IAC IAC -> 0xFF; IAC WILL/WONT/DO/DONT x and IAC other dropped), split
// at LF, strip one CR; longer than max -> too_long. An unterminated tail is reported too_long once
// it reaches max + 2 bytes (it can no longer become a valid line whatever follows).
std::vector<result> reference(std::string_view in, std::size_t max) {
    std::string dec;
    enum { data, iac, option } st = data;
    for (unsigned char b : in) {
        switch (st) {
            case data:
                if (b == 255) st = iac;
                else dec.push_back(static_cast<char>(b));
                break;
            case iac:
                if (b == 255) {
                    dec.push_back(static_cast<char>(b));
                    st = data;
                } else if (b >= 251 && b <= 254) {
                    st = option;
                } else {
                    st = data;
                }
                break;
            case option: st = data; break;
        }
    }
    std::vector<result> out;
    std::size_t pos = 0;
    for (;;) {
        auto nl = dec.find('\n', pos);
        if (nl == std::string::npos) break;
        std::string line = dec.substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.size() > max) out.push_back(std::nullopt);
        else out.push_back(line);
        pos = nl + 1;
    }
    if (dec.size() - pos >= max + 2) out.push_back(std::nullopt);
    return out;
}

void drain(line_reader& r, std::size_t max, std::vector<result>& out) {
    std::string line;
    for (int guard = 0;; ++guard) {
        FUZZ_CHECK(guard < 1000000, "next() never returned need_more");
        line.assign("garbage-from-before");
        auto s = r.next(line);
        if (s == line_reader::status::need_more) break;
        if (s == line_reader::status::too_long) {
            out.push_back(std::nullopt);
            continue;
        }
        FUZZ_CHECK(line.size() <= max, "line of " + std::to_string(line.size()) + " bytes, max " + std::to_string(max));
        FUZZ_CHECK(line.find('\n') == std::string::npos, "line holds LF: " + show(line));
        out.push_back(line);
    }
    // Bounded memory: after draining only an unterminated tail shorter than max + 2 remains.
    FUZZ_CHECK(r.buffered() <= max + 1, "buffered " + std::to_string(r.buffered()) + " after drain, max " + std::to_string(max));
}

std::string describe(const std::vector<result>& v) {
    std::string s;
    for (const auto& r : v) s += (r ? show(*r) : std::string("<too long>")) + " ";
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // Small maxima reach the over-long paths quickly; 0 selects the production default.
    const std::size_t max = data[0] == 0 ? line_reader::default_max_line : 1 + data[0] % 64;
    std::uint32_t rng = data[1] * 2654435761u + 1;
    const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);

    const auto want = reference(in, max);

    // All at once.
    std::vector<result> whole;
    {
        line_reader r(max);
        r.feed(in);
        drain(r, max, whole);
    }
    FUZZ_CHECK(whole == want, "one feed: got " + describe(whole) + "\nwant " + describe(want) + "\ninput " + show(in));

    // In random chunks (1 .. 2*max+8 bytes), draining after each.
    std::vector<result> chunked;
    {
        line_reader r(max);
        std::size_t i = 0;
        while (i < in.size()) {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            std::size_t n = 1 + rng % (2 * max + 8);
            if (n > in.size() - i) n = in.size() - i;
            r.feed(in.substr(i, n));
            i += n;
            drain(r, max, chunked);
        }
        // feed("") is harmless
        r.feed({});
        drain(r, max, chunked);
        // discard_buffered forgets everything, including a half Telnet sequence and a skipped line.
        r.discard_buffered();
        FUZZ_CHECK(r.buffered() == 0, "buffered after discard");
        r.feed("NOOP\r\n");
        std::string line;
        auto s = r.next(line);
        if (max >= 4)
            FUZZ_CHECK(s == line_reader::status::line && line == "NOOP", "fresh line after discard_buffered: " + show(line));
        else
            FUZZ_CHECK(s == line_reader::status::too_long, "NOOP is too long for max " + std::to_string(max));
        FUZZ_CHECK(r.next(line) == line_reader::status::need_more, "nothing after NOOP");
    }
    FUZZ_CHECK(chunked == want, "chunked: got " + describe(chunked) + "\nwant " + describe(want) + "\ninput " + show(in));
    return 0;
}
