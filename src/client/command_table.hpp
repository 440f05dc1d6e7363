#pragma once
// The CLI's commands as one table: the interpreter finds a command's handler in it and `help`
// prints it, so that a command cannot exist without being listed, or be listed without existing.
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::client {

// One command line, split for its handler.
struct command_call {
    std::string word;               // the command word as typed, lower case ("recv")
    std::vector<std::string> args;  // the words after it, quotes and escapes resolved
    std::string rest;               // the text after the command word, as typed
};

struct command {
    std::string_view name;
    std::vector<std::string_view> aliases;
    std::string_view usage;  // "get [-c] REMOTE [LOCAL]": also the usage message of a wrong call
    std::string_view help;
    bool needs_session = false;  // refused with "not connected" before the handler runs
    std::function<int(const command_call&)> run;
};

// The command whose name or alias is word (lower case), or nullptr.
const command* find_command(std::span<const command> table, std::string_view word);

// What `help TOPIC` shows: the command named topic (name or alias), else the first whose name
// starts with it; nullptr when none.
const command* find_help_topic(std::span<const command> table, std::string_view topic);

// "usage                      what it does (also: aliases)\n"
std::string help_line(const command& c);
// help_line of every command, in table order.
std::string format_help(std::span<const command> table);

}  // namespace ferry::client
