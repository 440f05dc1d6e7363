// Writes ferryd.conf(5): the hand-written template with its "@STATEMENTS@" line replaced by one
// paragraph per server statement of the table (config/man_page.hpp). Run by the build.
// Usage: gen_ferryd_conf_man TEMPLATE OUTPUT
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/man_page.hpp"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: gen_ferryd_conf_man TEMPLATE OUTPUT\n");
        return 2;
    }
    std::ifstream in(argv[1]);
    if (!in) {
        std::fprintf(stderr, "gen_ferryd_conf_man: cannot read %s\n", argv[1]);
        return 1;
    }
    std::ostringstream page;
    int placed = 0;
    for (std::string line; std::getline(in, line);) {
        if (line == "@STATEMENTS@") {
            page << ferry::config::describe_roff(ferry::config::side::server);
            ++placed;
        } else {
            page << line << '\n';
        }
    }
    // A template without the marker would give a page without statements: fail the build.
    if (placed != 1) {
        std::fprintf(stderr, "gen_ferryd_conf_man: %s must have exactly one @STATEMENTS@ line\n", argv[1]);
        return 1;
    }
    // Written beside and renamed, so that an interrupted build never leaves half a page.
    const std::string tmp = std::string(argv[2]) + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << page.str();
        if (!out.flush()) {
            std::fprintf(stderr, "gen_ferryd_conf_man: cannot write %s\n", tmp.c_str());
            return 1;
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, argv[2], ec);
    if (ec) {
        std::fprintf(stderr, "gen_ferryd_conf_man: %s: %s\n", argv[2], ec.message().c_str());
        return 1;
    }
    return 0;
}
