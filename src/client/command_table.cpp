#include "client/command_table.hpp"

#include <algorithm>

namespace ferry::client {

const command* find_command(std::span<const command> table, std::string_view word) {
    for (const auto& c : table)
        if (c.name == word || std::find(c.aliases.begin(), c.aliases.end(), word) != c.aliases.end()) return &c;
    return nullptr;
}

const command* find_help_topic(std::span<const command> table, std::string_view topic) {
    if (topic.empty()) return nullptr;
    if (const command* c = find_command(table, topic)) return c;
    for (const auto& c : table)
        if (c.name.substr(0, topic.size()) == topic) return &c;
    return nullptr;
}

std::string help_line(const command& c) {
    std::string what(c.help);
    if (!c.aliases.empty()) {
        what += " (also:";
        for (auto a : c.aliases) what += " " + std::string(a);
        what += ")";
    }
    std::string usage(c.usage);
    if (usage.size() < 26) usage.resize(26, ' ');
    return usage + " " + what + "\n";
}

std::string format_help(std::span<const command> table) {
    std::string out;
    for (const auto& c : table) out += help_line(c);
    return out;
}

}  // namespace ferry::client
