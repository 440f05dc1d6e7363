#include "config/statement.hpp"

#include <fstream>
#include <sstream>

#include "proto/command.hpp"

namespace ferry::config {

bool lex(std::string_view text, std::string_view file, std::vector<statement>& out, std::string& error) {
    int line_no = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        ++line_no;

        std::vector<std::string> tokens;
        std::size_t i = 0;
        while (i < line.size()) {
            char c = line[i];
            if (c == ';' || (c == '#' && tokens.empty())) break;
            if (std::isspace(static_cast<unsigned char>(c))) {
                ++i;
                continue;
            }
            std::string tok;
            if (c == '"') {
                std::size_t close = line.find('"', i + 1);
                if (close == std::string_view::npos) {
                    error = std::string(file) + ":" + std::to_string(line_no) + ": unterminated quoted value";
                    return false;
                }
                tok = std::string(line.substr(i + 1, close - i - 1));
                i = close + 1;
            } else {
                while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])) && line[i] != ';')
                    tok += line[i++];
            }
            tokens.push_back(std::move(tok));
        }
        if (tokens.empty()) continue;
        statement st;
        st.keyword = proto::upper(tokens.front());
        st.args.assign(tokens.begin() + 1, tokens.end());
        st.file = std::string(file);
        st.line = line_no;
        out.push_back(std::move(st));
        if (eol == text.size()) break;
    }
    return true;
}

bool read_file(const std::string& path, std::string& text, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = path + ": cannot open the configuration file";
        return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    return true;
}

}  // namespace ferry::config
