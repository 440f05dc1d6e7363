#pragma once
// Reply formatting (server) and reply parsing (client), RFC 959 section 4.2 incl. multi-line replies.
#include <cstdint>
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

// 257 replies (RFC 959 appendix II): the path in double quotes, a '"' inside doubled.
// quote_pathname("/a\"b") is "\"/a\"\"b\""; parse_quoted_pathname takes the first quoted
// path out of a reply's text (the text itself if it holds no quote).
std::string quote_pathname(std::string_view path);
std::string parse_quoted_pathname(std::string_view text);

// The size a 150 reply announces for a download, as "(N bytes)" (what vsftpd, ProFTPD and
// Ferry write); parse_transfer_size gives 0 when the text has none.
std::string transfer_size_note(std::uint64_t bytes);
std::uint64_t parse_transfer_size(std::string_view text);

}  // namespace ferry::proto
