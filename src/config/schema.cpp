#include "config/schema.hpp"

namespace ferry::config {

extern const std::vector<schema_entry> server_statements;
extern const std::vector<schema_entry> client_statements;

const std::vector<schema_entry>& schema() {
    static const std::vector<schema_entry> all = [] {
        std::vector<schema_entry> v = server_statements;
        v.insert(v.end(), client_statements.begin(), client_statements.end());
        return v;
    }();
    return all;
}

const schema_entry* find_entry(std::string_view keyword, side where) {
    for (const auto& e : schema())
        if (e.keyword == keyword && e.where == where) return &e;
    return nullptr;
}

std::string describe(side where) {
    std::string out;
    for (const auto& e : schema()) {
        if (e.where != where) continue;
        out += std::string(e.keyword) + " " + std::string(e.syntax) + "   (default: " + std::string(e.default_value) +
               ")\n    " + std::string(e.meaning) + "\n";
    }
    return out;
}

}  // namespace ferry::config
