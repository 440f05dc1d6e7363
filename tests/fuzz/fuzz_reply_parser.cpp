// proto::reply_parser fed the input's lines (split at LF, one CR stripped as line_reader does).
// Invariants: a finished reply has a code 0..999 and at least one line; a line that starts a reply
// is accepted iff it is "ddd", "ddd text" or "ddd-text"; format_reply(code, text) of a parsed
// reply parses back to the same reply (round trip), ending exactly at its last line.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/reply.hpp"

using ferry::fuzz::show;
using namespace ferry::proto;

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

std::vector<std::string> expected_lines(const reply& r) {
    std::vector<std::string> v;
    for (const auto& l : r.lines) {
        std::string x;
        for (char c : l)
            if (c != '\r') x.push_back(c);
        v.push_back(x);
    }
    if (v.size() > 1 && v.back().empty()) v.pop_back();  // format_reply ends the text there
    return v;
}

void round_trip(const reply& r) {
    const std::string wire = format_reply(r.code, r.text());
    FUZZ_CHECK(wire.size() >= 6 && wire.compare(wire.size() - 2, 2, "\r\n") == 0, "formatted " + show(wire));
    reply_parser p;
    std::size_t pos = 0;
    reply got;
    bool done = false;
    while (pos < wire.size()) {
        auto e = wire.find("\r\n", pos);
        FUZZ_CHECK(e != std::string::npos, "formatted reply without CRLF at the end: " + show(wire));
        FUZZ_CHECK(!done, "formatted reply has lines after its end: " + show(wire));
        auto s = p.feed_line(std::string_view(wire).substr(pos, e - pos));
        FUZZ_CHECK(s != reply_parser::status::bad, "own reply refused: " + show(wire));
        if (s == reply_parser::status::done) {
            got = p.take();
            done = true;
        }
        pos = e + 2;
    }
    FUZZ_CHECK(done, "own reply never finished: " + show(wire));
    FUZZ_CHECK(got.code == r.code, "code changed: " + show(wire));
    const auto want = expected_lines(r);
    std::string detail = "wire " + show(wire) + "\ngot:";
    for (const auto& l : got.lines) detail += " " + show(l);
    detail += "\nwant:";
    for (const auto& l : want) detail += " " + show(l);
    FUZZ_CHECK(got.lines == want, detail);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    reply_parser p;
    bool in_reply = false;
    std::size_t pos = 0;
    while (pos <= in.size()) {
        auto e = in.find('\n', pos);
        if (e == std::string_view::npos) e = in.size();
        std::string_view line = in.substr(pos, e - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos = e + 1;

        const bool starts = line.size() >= 3 && digit(line[0]) && digit(line[1]) && digit(line[2]) &&
                            (line.size() == 3 || line[3] == ' ' || line[3] == '-');
        auto s = p.feed_line(line);
        if (!in_reply) {
            FUZZ_CHECK((s != reply_parser::status::bad) == starts, "first line " + show(line));
            if (s == reply_parser::status::need_more)
                FUZZ_CHECK(line[3] == '-', "need_more for a single-line reply " + show(line));
        } else {
            FUZZ_CHECK(s != reply_parser::status::bad, "bad inside a multi-line reply: " + show(line));
        }
        if (s == reply_parser::status::done) {
            reply r = p.take();
            FUZZ_CHECK(r.code >= 0 && r.code <= 999, "code " + std::to_string(r.code));
            FUZZ_CHECK(!r.lines.empty(), "reply without lines");
            FUZZ_CHECK(r.positive_preliminary() + r.positive_completion() + r.positive_intermediate() <= 1,
                       "classes overlap");
            round_trip(r);
            in_reply = false;
        } else if (s == reply_parser::status::need_more) {
            in_reply = true;
        }
    }
    return 0;
}
