#include "client/shell_words.hpp"

#include <gtest/gtest.h>

using namespace ferry;
using namespace ferry::client;

namespace {
std::vector<std::string> words(const std::string& line) {
    std::string error;
    auto w = split_words(line, error);
    EXPECT_TRUE(w) << line << ": " << error;
    return w ? *w : std::vector<std::string>{};
}

proto::list_entry entry(std::string name, proto::file_info::kind type = proto::file_info::kind::file) {
    proto::list_entry e;
    e.info.name = std::move(name);
    e.info.type = type;
    return e;
}
}  // namespace

TEST(split_words, white_space_separates) {
    EXPECT_EQ(words("  get  a.txt\tb.txt  "), (std::vector<std::string>{"get", "a.txt", "b.txt"}));
    EXPECT_TRUE(words("").empty());
    EXPECT_TRUE(words(" \t ").empty());
}

TEST(split_words, quotes_group_and_escapes_escape) {
    EXPECT_EQ(words(R"(get "my file.txt" 'a b')"), (std::vector<std::string>{"get", "my file.txt", "a b"}));
    EXPECT_EQ(words(R"(get my\ file)"), (std::vector<std::string>{"get", "my file"}));
    // A backslash escapes inside double quotes, not inside single quotes.
    EXPECT_EQ(words(R"("a\"b" 'c\d')"), (std::vector<std::string>{"a\"b", "c\\d"}));
    // Quotes join with what touches them; an empty quoted word is a word.
    EXPECT_EQ(words(R"(pre"mid"post '')"), (std::vector<std::string>{"premidpost", ""}));
    // A trailing backslash is kept as it is.
    EXPECT_EQ(words("a\\"), (std::vector<std::string>{"a\\"}));
}

TEST(split_words, unterminated_quote_is_an_error) {
    std::string error;
    EXPECT_FALSE(split_words("get \"open", error));
    EXPECT_EQ(error, "unterminated quote");
    error.clear();
    EXPECT_FALSE(split_words("get 'open", error));
    EXPECT_EQ(error, "unterminated quote");
}

TEST(rest_of_line, text_after_the_command_word_as_typed) {
    EXPECT_EQ(rest_of_line("quote  SITE  CHMOD 644 \"x\"  "), "SITE  CHMOD 644 \"x\"");
    EXPECT_EQ(rest_of_line("  locsite\tEPSV4"), "EPSV4");
    EXPECT_EQ(rest_of_line("site"), "");
    EXPECT_EQ(rest_of_line(""), "");
}

TEST(paths, base_name) {
    EXPECT_EQ(base_name("a/b/c.txt"), "c.txt");
    EXPECT_EQ(base_name("c.txt"), "c.txt");
    EXPECT_EQ(base_name("a/b/"), "b");
    EXPECT_EQ(base_name("/"), "");  // nothing to name: get refuses it as a local file name
    EXPECT_EQ(base_name(""), "");
}

TEST(paths, dir_name_and_join_remote) {
    EXPECT_EQ(dir_name("a/b/c.txt"), "a/b");
    EXPECT_EQ(dir_name("/c.txt"), "/");
    EXPECT_EQ(dir_name("c.txt"), "");
    EXPECT_EQ(join_remote("", "x"), "x");
    EXPECT_EQ(join_remote("/", "x"), "/x");
    EXPECT_EQ(join_remote("a/b", "x"), "a/b/x");
    EXPECT_EQ(join_remote("a/b/", "x"), "a/b/x");
}

TEST(words, lower_and_has_glob) {
    EXPECT_EQ(lower("GeT"), "get");
    EXPECT_TRUE(has_glob("*.csv"));
    EXPECT_TRUE(has_glob("a?"));
    EXPECT_TRUE(has_glob("[ab]"));
    EXPECT_FALSE(has_glob("plain.txt"));
}

TEST(remote_glob_matches, plain_files_matching_the_pattern_in_its_folder) {
    proto::listing l;
    l.entries = {entry("a.csv"), entry("b.txt"), entry("sub", proto::file_info::kind::dir), entry("c.csv")};
    l.entries.push_back(entry("."));
    l.entries.back().self_or_parent = true;
    std::vector<std::string> skipped;
    EXPECT_EQ(remote_glob_matches(l, "*.csv", skipped), (std::vector<std::string>{"a.csv", "c.csv"}));
    EXPECT_EQ(remote_glob_matches(l, "in/*.csv", skipped), (std::vector<std::string>{"in/a.csv", "in/c.csv"}));
    EXPECT_EQ(remote_glob_matches(l, "/*", skipped), (std::vector<std::string>{"/a.csv", "/b.txt", "/c.csv"}));
    EXPECT_TRUE(remote_glob_matches(l, "*.pdf", skipped).empty());
    EXPECT_TRUE(skipped.empty());
}

TEST(remote_glob_matches, hostile_names_are_skipped_and_dot_files_not_matched) {
    proto::listing l;
    // A server may send paths (MLSD must not, LIST may) and names no local file should have.
    l.entries = {entry(".hidden"), entry("../../etc/passwd"), entry("evil\x1b[2Jname"), entry("ok"), entry("..")};
    std::vector<std::string> skipped;
    EXPECT_EQ(remote_glob_matches(l, "*", skipped), (std::vector<std::string>{"passwd", "ok"}));
    EXPECT_EQ(skipped, (std::vector<std::string>{"evil\x1b[2Jname"}));
}

TEST(desynchronising_verb, data_and_security_commands_are_refused) {
    for (const char* c : {"PASV", "epsv", "Port 1,2,3,4,5,6", "EPRT |1|x|1|", "RETR x", "STOR x", "APPE x", "STOU",
                          "LIST", "NLST", "MLSD", "AUTH TLS", "CCC", "PBSZ 0", "PROT P"})
        EXPECT_FALSE(desynchronising_verb(c).empty()) << c;
    EXPECT_EQ(desynchronising_verb("Retr file"), "retr");
    for (const char* c : {"NOOP", "SITE CHMOD 644 x", "HELP", "STAT", "MDTM x", "SYST", ""})
        EXPECT_EQ(desynchronising_verb(c), "") << c;
}
