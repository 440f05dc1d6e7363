// config::lex and config::parse_server_settings on arbitrary text.
// Invariants: errors always read "fuzz.conf:<line>: <message>" with a line that exists; lexed
// statements have upper-cased keywords and increasing line numbers; accepted settings satisfy
// every combination rule (no TLS policy without a KEYRING, passive range ordered, ...).
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "config/schema.hpp"
#include "config/settings.hpp"
#include "config/statement.hpp"
#include "fuzz_check.hpp"

using ferry::fuzz::show;
using namespace ferry::config;

namespace {

constexpr std::string_view file = "fuzz.conf";

// "fuzz.conf:N: message" -> N, or -1.
long error_line(const std::string& e) {
    if (e.compare(0, file.size() + 1, std::string(file) + ":") != 0) return -1;
    std::size_t i = file.size() + 1, start = i;
    long n = 0;
    while (i < e.size() && e[i] >= '0' && e[i] <= '9' && i - start < 9) n = n * 10 + (e[i++] - '0');
    if (i == start || e.compare(i, 2, ": ") != 0 || e.size() <= i + 2) return -1;
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    long lines = 1;
    for (char c : text) lines += c == '\n';

    std::vector<statement> sts;
    std::string lex_error;
    const bool lexed = lex(text, file, sts, lex_error);
    if (lexed) {
        int prev = 0;
        for (const auto& st : sts) {
            FUZZ_CHECK(st.file == file, "file " + show(st.file));
            FUZZ_CHECK(st.line > prev && st.line <= lines, "line " + std::to_string(st.line) + " after " + std::to_string(prev));
            prev = st.line;
            for (char c : st.keyword) {
                FUZZ_CHECK(!(c >= 'a' && c <= 'z'), "keyword not upper-cased: " + show(st.keyword));
                FUZZ_CHECK(c != '\n', "keyword holds LF");
            }
            for (const auto& a : st.args) FUZZ_CHECK(a.find('\n') == std::string::npos, "argument holds LF: " + show(a));
        }
    } else {
        long n = error_line(lex_error);
        FUZZ_CHECK(n >= 1 && n <= lines, "lex error " + show(lex_error));
        FUZZ_CHECK(lex_error.size() > 25 && lex_error.compare(lex_error.size() - 25, 25, "unterminated quoted value") == 0,
                   "lex error " + show(lex_error));
    }

    server_settings s;
    std::string error;
    const bool ok = parse_server_settings(text, file, s, error);
    if (!lexed) FUZZ_CHECK(!ok && error == lex_error, "lex error not passed on: " + show(error));
    if (!ok) {
        long n = error_line(error);
        FUZZ_CHECK(n >= 1 && n <= lines, "error without a valid file:line: " + show(error));
        return 0;
    }
    FUZZ_CHECK(error.empty(), "error set on success: " + show(error));
    // Combination rules of settings.cpp hold for every accepted file.
    FUZZ_CHECK(s.passive_low <= s.passive_high, "passive range reversed");
    FUZZ_CHECK((s.passive_low == 0) == (s.passive_high == 0), "half a passive range");
    FUZZ_CHECK(s.passive_low == 0 || s.passive_low >= 1024, "passive port below 1024");
    if (!s.tls_configured()) {
        FUZZ_CHECK(!s.auth_tls, "AUTH_TLS without KEYRING");
        FUZZ_CHECK(!s.tls_port_set || s.tls_port == 0, "TLSPORT without KEYRING");
        FUZZ_CHECK(s.secure != secure_ftp::required, "SECURE_FTP REQUIRED without KEYRING");
        FUZZ_CHECK(s.dataconn != secure_dataconn::private_, "SECURE_DATACONN PRIVATE without KEYRING");
    }
    const bool any_tls = s.tls_configured() && (s.auth_tls || s.tls_port != 0);
    FUZZ_CHECK(s.secure != secure_ftp::required || any_tls, "SECURE_FTP REQUIRED without a way to TLS");
    FUZZ_CHECK(s.dataconn != secure_dataconn::private_ || any_tls, "SECURE_DATACONN PRIVATE without a way to TLS");
    FUZZ_CHECK(s.inactive_seconds >= 1 && s.inactive_seconds <= 86400, "INACTIVE range");
    FUZZ_CHECK(s.data_timeout_seconds >= 1 && s.data_timeout_seconds <= 86400, "DATACTTIME range");
    FUZZ_CHECK(s.keepalive_seconds <= 86400, "FTPKEEPALIVE range");
    std::set<std::pair<std::string, int>> seen;
    for (const auto& l : s.listen) FUZZ_CHECK(seen.insert({l.host, l.port}).second, "duplicate LISTEN accepted");
    // Every statement of an accepted file is in the server schema.
    for (const auto& st : sts) FUZZ_CHECK(find_entry(st.keyword, side::server), "unknown keyword accepted: " + show(st.keyword));
    return 0;
}
