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

}  // namespace ferry::fuzz

#define FUZZ_CHECK(cond, detail)                                                  \
    do {                                                                          \
        if (!(cond)) ::ferry::fuzz::fail(#cond, __FILE__, __LINE__, (detail));    \
    } while (0)
