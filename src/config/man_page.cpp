#include "config/man_page.hpp"

namespace ferry::config {

namespace {

// A literal value (syntax, default): '-' is a minus sign in roff, not a hyphen that may be
// typeset as a dash or broken at; "XFERLOG -" must be copyable from the page.
std::string roff_literal(std::string_view text) {
    std::string out;
    for (char c : roff_text(text)) {
        if (c == '-') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

std::string roff_text(std::string_view text) {
    std::string out;
    if (!text.empty() && (text.front() == '.' || text.front() == '\'')) out += "\\&";
    for (char c : text) {
        if (c == '\\') {
            out += "\\e";
        } else if (c == '\n') {
            out += " ";  // one paragraph per statement; a newline here would start a request
        } else {
            out += c;
        }
    }
    return out;
}

std::string describe_roff(side where) {
    std::string out;
    for (const auto& e : schema()) {
        if (e.where != where) continue;
        out += ".TP\n\\fB" + std::string(e.keyword) + "\\fR \\fI" + roff_literal(e.syntax) + "\\fR\n";
        out += roff_text(e.meaning) + "\n";
        out += ".br\nDefault: " + roff_literal(e.default_value) + "." +
               (e.repeatable ? " May be given more than once." : "") + "\n";
    }
    return out;
}

}  // namespace ferry::config
