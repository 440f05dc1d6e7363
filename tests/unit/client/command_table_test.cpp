#include "client/command_table.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "client/shell.hpp"

using namespace ferry::client;

namespace {
std::vector<command> sample() {
    return {
        {"get", {"recv"}, "get [-c] REMOTE [LOCAL]", "download", true, [](const command_call&) { return 1; }},
        {"reget", {}, "reget REMOTE", "resume a download", true, [](const command_call&) { return 2; }},
        {"bye", {"quit", "exit"}, "bye", "leave", false, [](const command_call&) { return 3; }},
    };
}

// The real table, from a shell whose program hooks are never called.
class table_only_shell final : public shell {
    int connect(const ftp_url&, bool) override { return exit_connection; }
    std::optional<std::string> ask_password(const std::string&) override { return std::nullopt; }
    std::unique_ptr<progress_display> show_progress(const std::string&, bool) override { return nullptr; }
};
}  // namespace

TEST(command_table, finds_names_and_aliases_exactly) {
    auto t = sample();
    ASSERT_TRUE(find_command(t, "get"));
    EXPECT_EQ(find_command(t, "recv")->name, "get");
    EXPECT_EQ(find_command(t, "exit")->name, "bye");
    EXPECT_EQ(find_command(t, "reget")->run(command_call{}), 2);
    EXPECT_FALSE(find_command(t, "ge"));
    EXPECT_FALSE(find_command(t, "GET"));  // the caller lower-cases the word
    EXPECT_FALSE(find_command(t, ""));
}

TEST(command_table, help_lines_pad_the_usage_and_name_the_aliases) {
    auto t = sample();
    EXPECT_EQ(help_line(t[0]), "get [-c] REMOTE [LOCAL]    download (also: recv)\n");
    EXPECT_EQ(help_line(t[1]), "reget REMOTE               resume a download\n");
    EXPECT_EQ(format_help(t), help_line(t[0]) + help_line(t[1]) + help_line(t[2]));
    command long_usage{"x", {}, "x AN-ARGUMENT-THAT-IS-VERY-LONG", "what", false, nullptr};
    EXPECT_EQ(help_line(long_usage), "x AN-ARGUMENT-THAT-IS-VERY-LONG what\n");
}

TEST(command_table, help_topic_by_name_alias_or_prefix) {
    auto t = sample();
    EXPECT_EQ(find_help_topic(t, "quit")->name, "bye");
    EXPECT_EQ(find_help_topic(t, "reget")->name, "reget");
    EXPECT_EQ(find_help_topic(t, "g")->name, "get");
    EXPECT_EQ(find_help_topic(t, "re")->name, "reget");
    EXPECT_FALSE(find_help_topic(t, "nothing"));
    EXPECT_FALSE(find_help_topic(t, ""));
}

// Every command and alias the CLI had before the table existed, each listed by help.
TEST(command_table, the_cli_table_has_every_command_once) {
    table_only_shell sh;
    const auto& t = sh.commands();
    const std::string help = format_help(t);
    for (const char* word :
         {"bye",    "quit",  "exit",   "help",   "?",      "open",    "close",  "disconnect", "user",    "lcd",
          "lpwd",   "locsite", "passive", "verbose", "status", "ascii", "binary", "bin",        "image",   "type",
          "ls",     "nlist", "mls",    "dir",    "pwd",    "cd",      "cwd",    "cdup",       "get",     "recv",
          "reget",  "put",   "send",   "reput",  "mget",   "mput",    "mkdir",  "mkd",        "rmdir",   "rmd",
          "delete", "del",   "rm",     "mdelete", "rename", "ren",    "mv",     "size",       "prot",    "private",
          "clear",  "ccc",   "site",   "quote",  "literal"}) {
        const command* c = find_command(t, word);
        ASSERT_TRUE(c) << word;
        EXPECT_TRUE(c->run) << word;
        EXPECT_NE(help.find(std::string(word)), std::string::npos) << word;
    }
    for (std::size_t i = 0; i < t.size(); ++i)
        for (std::size_t j = 0; j < t.size(); ++j) {
            if (i == j) continue;
            EXPECT_NE(find_command(t, t[i].name), &t[j]) << t[i].name << " is also a word of " << t[j].name;
            for (auto a : t[i].aliases) EXPECT_NE(find_command(t, a), &t[j]) << a;
        }
}

TEST(command_table, commands_that_work_without_a_session) {
    table_only_shell sh;
    for (const char* word : {"open", "user", "close", "lcd", "lpwd", "locsite", "passive", "verbose", "status",
                             "ascii", "binary", "type", "help", "bye"})
        EXPECT_FALSE(find_command(sh.commands(), word)->needs_session) << word;
    for (const char* word : {"ls", "dir", "cd", "get", "put", "mget", "prot", "ccc", "quote", "site", "rename"})
        EXPECT_TRUE(find_command(sh.commands(), word)->needs_session) << word;
}

TEST(command_table, without_a_session_commands_are_refused_not_run) {
    table_only_shell sh;
    bool quit = false;
    EXPECT_EQ(sh.execute("get file", quit), exit_failed);  // not connected
    EXPECT_EQ(sh.execute("no-such-command", quit), exit_failed);
    EXPECT_EQ(sh.execute("get \"open", quit), exit_usage);  // unterminated quote
    EXPECT_EQ(sh.execute("   ", quit), exit_ok);
    EXPECT_FALSE(quit);
    EXPECT_EQ(sh.execute("QUIT", quit), exit_ok);
    EXPECT_TRUE(quit);
}
