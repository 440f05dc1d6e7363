// The FTP.DATA-style statement lexer (config/statement.hpp): tokens, comments, quotes, line
// numbers and the file:line error of an unterminated quote.
#include "config/statement.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ferry::config;

namespace {

std::vector<statement> lex_ok(std::string_view text, std::string_view file = "ferryd.conf") {
    std::vector<statement> out;
    std::string error;
    EXPECT_TRUE(lex(text, file, out, error)) << error;
    EXPECT_EQ(error, "");
    return out;
}

std::string lex_error(std::string_view text, std::string_view file = "ferryd.conf") {
    std::vector<statement> out;
    std::string error;
    EXPECT_FALSE(lex(text, file, out, error));
    return error;
}

using args = std::vector<std::string>;

}  // namespace

TEST(lex, empty_text_has_no_statements) {
    EXPECT_TRUE(lex_ok("").empty());
    EXPECT_TRUE(lex_ok("\n\n   \n\t\n").empty());
}

TEST(lex, keyword_and_arguments) {
    auto sts = lex_ok("LISTEN 0.0.0.0 21\n");
    ASSERT_EQ(sts.size(), 1u);
    EXPECT_EQ(sts[0].keyword, "LISTEN");
    EXPECT_EQ(sts[0].args, (args{"0.0.0.0", "21"}));
    EXPECT_EQ(sts[0].file, "ferryd.conf");
    EXPECT_EQ(sts[0].line, 1);
    EXPECT_EQ(sts[0].where(), "ferryd.conf:1");
}

TEST(lex, keyword_is_upper_cased_but_arguments_are_kept_as_written) {
    auto sts = lex_ok("secure_Ftp Required\nkeyring /Etc/Ferry/Server.PEM\n");
    ASSERT_EQ(sts.size(), 2u);
    EXPECT_EQ(sts[0].keyword, "SECURE_FTP");
    EXPECT_EQ(sts[0].args, (args{"Required"}));
    EXPECT_EQ(sts[1].keyword, "KEYRING");
    EXPECT_EQ(sts[1].args, (args{"/Etc/Ferry/Server.PEM"}));
}

TEST(lex, keyword_without_arguments) {
    auto sts = lex_ok("NOOP\n");
    ASSERT_EQ(sts.size(), 1u);
    EXPECT_EQ(sts[0].keyword, "NOOP");
    EXPECT_TRUE(sts[0].args.empty());
}

TEST(lex, spaces_and_tabs_separate_tokens) {
    auto sts = lex_ok("  \tPASSIVEDATAPORTS\t50000   \t 50100  \t\n");
    ASSERT_EQ(sts.size(), 1u);
    EXPECT_EQ(sts[0].keyword, "PASSIVEDATAPORTS");
    EXPECT_EQ(sts[0].args, (args{"50000", "50100"}));
}

TEST(lex, line_numbers_count_blank_and_comment_lines) {
    auto sts = lex_ok("; header comment\n"
                      "\n"
                      "# another comment\n"
                      "TLSPORT 990\n"
                      "   \n"
                      "INACTIVE 60 ; trailing comment\n"
                      "\n");
    ASSERT_EQ(sts.size(), 2u);
    EXPECT_EQ(sts[0].keyword, "TLSPORT");
    EXPECT_EQ(sts[0].line, 4);
    EXPECT_EQ(sts[1].keyword, "INACTIVE");
    EXPECT_EQ(sts[1].line, 6);
    EXPECT_EQ(sts[1].where(), "ferryd.conf:6");
}

TEST(lex, last_line_without_newline_is_read) {
    auto sts = lex_ok("TLSPORT 990\nINACTIVE 60");
    ASSERT_EQ(sts.size(), 2u);
    EXPECT_EQ(sts[1].keyword, "INACTIVE");
    EXPECT_EQ(sts[1].args, (args{"60"}));
    EXPECT_EQ(sts[1].line, 2);
}

TEST(lex, crlf_line_endings) {
    auto sts = lex_ok("TLSPORT 990\r\nKEYRING a.pem\r\n\r\nINACTIVE 60\r\n");
    ASSERT_EQ(sts.size(), 3u);
    EXPECT_EQ(sts[0].args, (args{"990"}));
    EXPECT_EQ(sts[1].args, (args{"a.pem"}));
    EXPECT_EQ(sts[2].keyword, "INACTIVE");
    EXPECT_EQ(sts[2].args, (args{"60"}));
    EXPECT_EQ(sts[2].line, 4);
}

TEST(lex, semicolon_starts_a_comment_anywhere) {
    auto sts = lex_ok("TLSPORT 990;no space before\n"
                      "INACTIVE 60 ; KEYRING x.pem\n"
                      ";TLSPORT 21\n"
                      "   ; indented comment\n"
                      "USERS;comment right after keyword\n");
    ASSERT_EQ(sts.size(), 3u);
    EXPECT_EQ(sts[0].keyword, "TLSPORT");
    EXPECT_EQ(sts[0].args, (args{"990"}));
    EXPECT_EQ(sts[1].keyword, "INACTIVE");
    EXPECT_EQ(sts[1].args, (args{"60"}));
    EXPECT_EQ(sts[2].keyword, "USERS");
    EXPECT_TRUE(sts[2].args.empty());
    EXPECT_EQ(sts[2].line, 5);
}

TEST(lex, hash_starts_a_comment_only_at_line_start) {
    auto sts = lex_ok("# TLSPORT 21\n"
                      "   #\tindented hash comment\n"
                      "KEYRING a#b.pem\n"
                      "USERS #users\n");
    ASSERT_EQ(sts.size(), 2u);
    EXPECT_EQ(sts[0].keyword, "KEYRING");
    EXPECT_EQ(sts[0].args, (args{"a#b.pem"}));
    EXPECT_EQ(sts[0].line, 3);
    EXPECT_EQ(sts[1].keyword, "USERS");
    EXPECT_EQ(sts[1].args, (args{"#users"}));  // '#' after the keyword is data
    EXPECT_EQ(sts[1].line, 4);
}

TEST(lex, quoted_values_keep_spaces_semicolons_and_hashes) {
    auto sts = lex_ok("KEYRING \"/etc/my ferry/server; #1.pem\" ; comment \"x\n");
    ASSERT_EQ(sts.size(), 1u);
    EXPECT_EQ(sts[0].keyword, "KEYRING");
    EXPECT_EQ(sts[0].args, (args{"/etc/my ferry/server; #1.pem"}));
}

TEST(lex, quoted_values_mix_with_plain_ones) {
    auto sts = lex_ok("LISTEN \"::1\" 2121\nUSERS \"\" \"a b\"  c\n");
    ASSERT_EQ(sts.size(), 2u);
    EXPECT_EQ(sts[0].args, (args{"::1", "2121"}));
    EXPECT_EQ(sts[1].args, (args{"", "a b", "c"}));  // an empty quoted value is a value
}

TEST(lex, quoted_keyword_is_upper_cased_too) {
    auto sts = lex_ok("\"tls port\" 1\n");
    ASSERT_EQ(sts.size(), 1u);
    EXPECT_EQ(sts[0].keyword, "TLS PORT");
}

TEST(lex, unterminated_quote_is_an_error_with_file_and_line) {
    EXPECT_EQ(lex_error("TLSPORT 990\n\nKEYRING \"/etc/ferry/server.pem\nINACTIVE 60\n", "/etc/ferry/ferryd.conf"),
              "/etc/ferry/ferryd.conf:3: unterminated quoted value");
    EXPECT_EQ(lex_error("USERS \"a;b", "site.conf"), "site.conf:1: unterminated quoted value");
    // The quote must close on its own line: a newline does not continue it.
    EXPECT_EQ(lex_error("KEYRING \"a\nb\"\n", "x"), "x:1: unterminated quoted value");
}

TEST(lex, quotes_inside_comments_are_not_checked) {
    auto sts = lex_ok("; \"unterminated in a comment\n# \"also\nTLSPORT 990 ; \"\n");
    ASSERT_EQ(sts.size(), 1u);
    EXPECT_EQ(sts[0].keyword, "TLSPORT");
    EXPECT_EQ(sts[0].line, 3);
}

TEST(lex, file_name_is_recorded_in_every_statement) {
    auto sts = lex_ok("A 1\nB 2\n", "conf/x.data");
    ASSERT_EQ(sts.size(), 2u);
    for (const auto& st : sts) EXPECT_EQ(st.file, "conf/x.data");
    EXPECT_EQ(sts[1].where(), "conf/x.data:2");
}

TEST(read_file, missing_file_is_an_error_naming_it) {
    std::string text, error;
    EXPECT_FALSE(read_file("/nonexistent/ferry/ferryd.conf", text, error));
    EXPECT_EQ(error, "/nonexistent/ferry/ferryd.conf: cannot open the configuration file");
}
