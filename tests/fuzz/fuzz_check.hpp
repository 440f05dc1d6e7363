#pragma once
// Invariant checks for the fuzz targets: a broken invariant prints what was expected and aborts,
// so libFuzzer saves the input as a crash artifact.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ferry::fuzz {

[[noreturn]] inline void fail(const char* cond, const char* file, int line, std::string_view detail) {
    std::fprintf(stderr, "\nFUZZ_CHECK failed: %s\n  at %s:%d\n  %.*s\n", cond, file, line,
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

// Printable form of arbitrary bytes for failure messages.
inline std::string show(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out + "\"";
}

// The checks that follow need FUZZ_CHECK.
}  // namespace ferry::fuzz

#define FUZZ_CHECK(cond, detail)                                                  \
    do {                                                                          \
        if (!(cond)) ::ferry::fuzz::fail(#cond, __FILE__, __LINE__, (detail));    \
    } while (0)

namespace ferry::fuzz {

// A file parser's refusal must read "<file>:<line>: <message>" and name a line of text.
inline void check_file_line_error(std::string_view error, std::string_view file, std::string_view text) {
    const std::string prefix = std::string(file) + ":";
    FUZZ_CHECK(error.substr(0, prefix.size()) == prefix, "error without file name: " + show(error));
    std::size_t i = prefix.size();
    long line = 0;
    while (i < error.size() && error[i] >= '0' && error[i] <= '9' && line < 1000000000) line = line * 10 + (error[i++] - '0');
    FUZZ_CHECK(i > prefix.size() && error.substr(i, 2) == ": ", "error without line: " + show(error));
    long lines = 1;
    for (char c : text) lines += c == '\n';
    FUZZ_CHECK(line >= 1 && line <= lines, "error names line " + std::to_string(line) + " of " + std::to_string(lines));
}

}  // namespace ferry::fuzz
