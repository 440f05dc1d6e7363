#pragma once
// Reply formatting (server) and reply parsing (client), RFC 959 section 4.2 incl. multi-line replies.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::proto {

// "code text\r\n"; text containing '\n' becomes a multi-line reply:
// "code-first\r\n inner\r\ncode last\r\n". Inner lines are indented by one space so that
// none of them can be mistaken for the closing line.
std::string format_reply(int code, std::string_view text);

struct reply {
    int code = 0;
    std::vector<std::string> lines;  // text of each line, without the code prefix
    std::string text() const;        // lines joined by '\n'
    bool positive_preliminary() const { return code / 100 == 1; }
    bool positive_completion() const { return code / 100 == 2; }
    bool positive_intermediate() const { return code / 100 == 3; }
};

// Client side: feed() one line at a time (without CR LF); a reply comes out when complete.
class reply_parser {
public:
    enum class status { done, need_more, bad };
    status feed_line(std::string_view line);
    reply take() { return std::move(current_); }

private:
    reply current_;
    bool in_multi_ = false;
};

}  // namespace ferry::proto
