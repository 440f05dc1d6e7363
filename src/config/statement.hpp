#pragma once
// FTP.DATA-style statements: "KEYWORD value ... ; comment", one per line. Lexing only.
#include <string>
#include <string_view>
#include <vector>

namespace ferry::config {

struct statement {
    std::string keyword;            // upper-cased
    std::vector<std::string> args;  // as written ("double quotes" keep spaces together)
    std::string file;
    int line = 0;
    std::string where() const { return file + ":" + std::to_string(line); }
};

// Splits text into statements. ';' starts a comment anywhere outside quotes, '#' at the start of
// a line too. On error returns false and sets error to "file:line: what is wrong".
bool lex(std::string_view text, std::string_view file, std::vector<statement>& out, std::string& error);
// Reads a whole configuration file; a missing file is an error naming the file.
bool read_file(const std::string& path, std::string& text, std::string& error);

}  // namespace ferry::config
