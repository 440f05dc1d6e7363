#include "server/event_log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

using ferry::server::append_json_string;
using ferry::server::json_event;

namespace {

std::string as_json(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

}  // namespace

TEST(EventLog, LineHasTimeEventAndFieldsInOrder) {
    // 2026-12-06 17:20:01.250 UTC
    const auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796577601250LL));
    json_event e("transfer", when);
    e.num("session", 7).str("user", "alice").real("seconds", 0.4125).flag("data_resumed", true).num("bytes", 0);
    EXPECT_EQ(e.text(),
              R"({"time":"2026-12-06T17:20:01.250Z","event":"transfer","session":7,"user":"alice",)"
              R"("seconds":0.412,"data_resumed":true,"bytes":0})");
}

// SECURITY: log forging: a file name or user name cannot end the line, close the string or add a
// field; every line stays one valid JSON object.
TEST(EventLog, StringsAreEscaped) {
    EXPECT_EQ(as_json("a\"b\\c"), R"("a\"b\\c")");
    EXPECT_EQ(as_json("line\nnext\r\t"), R"("line\nnext\r\t")");
    EXPECT_EQ(as_json(std::string("\x01\x1f\x7f", 3)), R"("\u0001\u001f\u007f")");
    EXPECT_EQ(as_json(std::string("nul\0x", 5)), R"("nul\u0000x")");
    EXPECT_EQ(as_json("\",\"admin\":true"), R"("\",\"admin\":true")");
}

TEST(EventLog, Utf8IsKeptAndOtherBytesReplaced) {
    EXPECT_EQ(as_json("r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x81"), "\"r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x81\"");
    EXPECT_EQ(as_json("latin1 \xe9t\xe9"), R"("latin1 \ufffdt\ufffd")");
    EXPECT_EQ(as_json("\xc0\xaf"), R"("\ufffd\ufffd")");          // overlong '/'
    EXPECT_EQ(as_json("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // a surrogate
    EXPECT_EQ(as_json("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // past U+10FFFF
    EXPECT_EQ(as_json("cut \xe2\x82"), R"("cut \ufffd\ufffd")");  // a sequence cut short
}
