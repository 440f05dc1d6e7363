// proto::parse_command and proto::upper on arbitrary lines.
// Invariants: a parsed verb is 3-4 ASCII letters and up to 3 digits, upper-cased, equal to the
// line's first word;
// the argument is exactly the text after the first space (or empty without one).
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "proto/command.hpp"

using ferry::fuzz::show;
using namespace ferry::proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    command c;
    c.verb = "PREV";
    c.arg = "previous";
    const bool ok = parse_command(line, c);
    const auto sp = line.find(' ');
    const std::string_view word = line.substr(0, sp);
    // 3 or 4 letters, then at most 3 digits (XMD5, XSHA256), written out separately from the parser.
    std::size_t n_letters = 0, n_digits = 0;
    bool shape = true;
    for (char ch : word) {
        const bool letter = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
        const bool digit = ch >= '0' && ch <= '9';
        if (letter && n_digits == 0) ++n_letters;
        else if (digit) ++n_digits;
        else shape = false;
    }
    const bool valid = shape && n_letters >= 3 && n_letters <= 4 && n_digits <= 3;
    FUZZ_CHECK(ok == valid, "accepted=" + std::to_string(ok) + " for " + show(line));
    if (ok) {
        FUZZ_CHECK(c.verb.size() == word.size(), show(c.verb));
        for (std::size_t i = 0; i < word.size(); ++i) {
            char w = word[i];
            char up = (w >= 'a' && w <= 'z') ? static_cast<char>(w - 'a' + 'A') : w;
            FUZZ_CHECK(c.verb[i] == up, "verb " + show(c.verb) + " for " + show(line));
        }
        const std::string_view want_arg = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
        FUZZ_CHECK(c.arg == want_arg, "arg " + show(c.arg) + " for " + show(line));
        // The verb re-parses to itself.
        command again;
        FUZZ_CHECK(parse_command(c.verb + (sp == std::string_view::npos ? "" : " " + c.arg), again) &&
                       again.verb == c.verb && again.arg == c.arg,
                   "re-parse of " + show(line));
    }

    // upper(): trimmed of spaces and tabs at both ends, no lower-case ASCII, same length as the
    // trimmed text, and idempotent.
    const std::string u = upper(line);
    std::string_view t = line;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    FUZZ_CHECK(u.size() == t.size(), "upper size " + show(u) + " for " + show(line));
    for (std::size_t i = 0; i < u.size(); ++i) {
        FUZZ_CHECK(!(u[i] >= 'a' && u[i] <= 'z'), "lower-case left in " + show(u));
        const char o = t[i];
        FUZZ_CHECK(u[i] == o || (o >= 'a' && o <= 'z' && u[i] == o - 'a' + 'A'), "upper changed a non-letter: " + show(u));
    }
    FUZZ_CHECK(upper(u) == u, "upper not idempotent: " + show(u));
    return 0;
}
