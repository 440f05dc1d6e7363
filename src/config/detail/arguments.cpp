#include "config/detail/arguments.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "config/values.hpp"
#include "proto/command.hpp"

namespace ferry::config::detail {


bool want_args(const statement& st, std::size_t lo, std::size_t hi, std::string_view syntax, std::string& err) {
    if (st.args.size() >= lo && st.args.size() <= hi) return true;
    err = st.keyword + " takes " + std::string(syntax) + ", not " + std::to_string(st.args.size()) +
          (st.args.size() == 1 ? " value" : " values");
    return false;
}

int choice(const statement& st, std::size_t i, std::initializer_list<std::string_view> allowed, std::string& err) {
    const std::string v = proto::upper(st.args[i]);
    int idx = 0;
    for (auto a : allowed) {
        if (v == a) return idx;
        ++idx;
    }
    err = st.keyword + ": '" + st.args[i] + "' is not allowed; use ";
    idx = 0;
    for (auto a : allowed) err += (idx++ ? " or " : "") + std::string(a);
    return -1;
}

bool number(const statement& st, std::size_t i, unsigned long lo, unsigned long hi, unsigned long& out,
            std::string& err) {
    const std::string& s = st.args[i];
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || p != s.data() + s.size() || out < lo || out > hi) {
        err = st.keyword + ": '" + s + "' is not a number from " + std::to_string(lo) + " to " + std::to_string(hi);
        return false;
    }
    return true;
}

bool rate(const statement& st, std::size_t i, std::uint64_t& out, std::string& err) {
    const auto r = parse_rate(st.args[i]);
    if (!r) {
        err = st.keyword + ": '" + st.args[i] + "' is not a rate in bytes a second: " + std::string(rate_syntax);
        return false;
    }
    out = *r;
    return true;
}

bool ip_literal(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    std::string text(s);
    unsigned char buf[16];
    return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

}  // namespace ferry::config::detail
