// ferryd.conf(5) is generated from the statement table: every server statement must have its
// paragraph, with its syntax and default, and nothing else may reach the page.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "config/man_page.hpp"
#include "config/schema.hpp"

using namespace ferry::config;

namespace {

int count_lines(const std::string& text, std::string_view line) {
    std::istringstream in(text);
    int n = 0;
    for (std::string l; std::getline(in, l);) n += l == line;
    return n;
}

}  // namespace

TEST(man_page, every_server_statement_has_its_paragraph_in_table_order) {
    const std::string page = describe_roff(side::server);
    std::size_t at = 0;
    int server_entries = 0;
    for (const auto& e : schema()) {
        if (e.where != side::server) continue;
        ++server_entries;
        const std::string head = ".TP\n\\fB" + std::string(e.keyword) + "\\fR ";
        auto found = page.find(head, at);
        ASSERT_NE(found, std::string::npos) << e.keyword << " is missing (or out of table order)";
        at = found + head.size();
        // Its default follows before the next paragraph starts.
        auto next = page.find(".TP\n", at);
        const std::string body = page.substr(at, next == std::string::npos ? std::string::npos : next - at);
        EXPECT_NE(body.find("Default: "), std::string::npos) << e.keyword;
        EXPECT_EQ(body.find("May be given more than once.") != std::string::npos, e.repeatable) << e.keyword;
    }
    EXPECT_GE(server_entries, 20);
    EXPECT_EQ(count_lines(page, ".TP"), server_entries);
}

TEST(man_page, client_statements_stay_off_the_server_page) {
    const std::string page = describe_roff(side::server);
    for (const auto& e : schema()) {
        if (e.where != side::client || find_entry(e.keyword, side::server)) continue;
        EXPECT_EQ(page.find("\\fB" + std::string(e.keyword) + "\\fR"), std::string::npos) << e.keyword;
    }
}

TEST(man_page, literal_values_keep_their_minus_signs) {
    // "XFERLOG -" writes to standard output: the '-' must be a minus a reader can copy.
    const std::string page = describe_roff(side::server);
    EXPECT_NE(page.find("\\fBXFERLOG\\fR \\fIfile | \\-\\fR"), std::string::npos);
}

TEST(man_page, text_cannot_become_a_request) {
    EXPECT_EQ(roff_text(".so /etc/passwd"), "\\&.so /etc/passwd");
    EXPECT_EQ(roff_text("'br"), "\\&'br");
    EXPECT_EQ(roff_text("a\\fBb"), "a\\efBb");
    EXPECT_EQ(roff_text("one\n.sh two"), "one .sh two");
    EXPECT_EQ(roff_text("plain text, 0.0.0.0"), "plain text, 0.0.0.0");
}
