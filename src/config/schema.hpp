#pragma once
// The one table of configuration statements: name, side, syntax, default, meaning and how it is
// applied. Used to read files, to print `ferryd --help-config`, and to check the README.
#include <string>
#include <string_view>
#include <vector>

#include "config/client_settings.hpp"
#include "config/settings.hpp"
#include "config/statement.hpp"

namespace ferry::config {

enum class side { server, client };

struct schema_entry {
    std::string_view keyword;
    side where;
    std::string_view syntax;         // allowed values, e.g. "ALLOWED | REQUIRED"
    std::string_view default_value;
    std::string_view meaning;
    bool repeatable;
    // Checks the statement's arguments and stores them; returns false with a message (without
    // the file:line prefix) when they are wrong.
    // One of the two is set, for the entry's side.
    bool (*apply_server)(server_settings&, const statement&, std::string& error);
    bool (*apply_client)(client_settings&, const statement&, std::string& error) = nullptr;
};

const std::vector<schema_entry>& schema();
const schema_entry* find_entry(std::string_view keyword, side where);
// "KEYWORD syntax (default: x)\n    meaning" lines for --help-config.
std::string describe(side where);

}  // namespace ferry::config
