#include "proto/address.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <vector>

namespace ferry::proto {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads "n1,n2,...,n6" at text[i]: each 1-3 digits and <= 255, spaces allowed around commas.
// On success sets end to the index after the last digit.
bool read_six(std::string_view text, std::size_t i, std::array<int, 6>& v, std::size_t& end) {
    for (int k = 0; k < 6; ++k) {
        if (k > 0) {
            while (i < text.size() && text[i] == ' ') ++i;
            if (i >= text.size() || text[i] != ',') return false;
            ++i;
            while (i < text.size() && text[i] == ' ') ++i;
        }
        std::size_t start = i;
        int n = 0;
        while (i < text.size() && is_digit(text[i]) && i - start < 3) n = n * 10 + (text[i++] - '0');
        if (i == start || n > 255) return false;
        if (i < text.size() && is_digit(text[i])) return false;  // more than 3 digits
        v[k] = n;
    }
    end = i;
    return true;
}

host_port from_six(const std::array<int, 6>& v) {
    host_port hp;
    hp.host = std::to_string(v[0]) + '.' + std::to_string(v[1]) + '.' + std::to_string(v[2]) + '.' +
              std::to_string(v[3]);
    hp.port = static_cast<std::uint16_t>(v[4] * 256 + v[5]);
    hp.family = 1;
    return hp;
}

bool pton(int af, std::string_view host, void* dst) {
    // inet_pton wants a C string; an embedded NUL would otherwise hide trailing junk.
    if (host.empty() || host.find('\0') != std::string_view::npos || host.size() > 64) return false;
    std::string s(host);
    return inet_pton(af, s.c_str(), dst) == 1;
}

// Decimal 1..65535 with no sign, spaces or leading junk.
std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return std::nullopt;
    unsigned n = 0;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
        n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n == 0 || n > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(n);
}

std::optional<std::string> six_numbers(const host_port& hp) {
    std::string host = unmap_ipv4(hp.host);
    unsigned char b[4];
    if (!pton(AF_INET, host, b)) return std::nullopt;
    std::string r;
    for (unsigned char x : b) r += std::to_string(x) + ',';
    r += std::to_string(hp.port >> 8) + ',' + std::to_string(hp.port & 0xff);
    return r;
}

}  // namespace

std::optional<host_port> parse_port_arg(std::string_view arg) {
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
    std::array<int, 6> v{};
    std::size_t end = 0;
    if (!read_six(arg, 0, v, end) || end != arg.size()) return std::nullopt;
    auto hp = from_six(v);
    if (hp.port == 0) return std::nullopt;  // nothing can connect to port 0
    return hp;
}

// Servers differ: "(h1,...,p2)", "(h1,...,p2).", "=h1,...,p2", "h1,...,p2" with no parentheses.
// So we take the first run of exactly six numbers that is not part of a longer list.
std::optional<host_port> parse_pasv_reply(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!is_digit(text[i])) continue;
        if (i > 0 && (is_digit(text[i - 1]) || text[i - 1] == ',')) continue;
        std::array<int, 6> v{};
        std::size_t end = 0;
        if (!read_six(text, i, v, end)) continue;
        std::size_t j = end;
        while (j < text.size() && text[j] == ' ') ++j;
        if (j < text.size() && text[j] == ',') continue;  // seven or more numbers: not ours
        auto hp = from_six(v);
        if (hp.port == 0) return std::nullopt;
        return hp;
    }
    return std::nullopt;
}

std::optional<std::string> format_port_arg(const host_port& hp) { return six_numbers(hp); }

std::optional<std::string> format_pasv_reply(const host_port& hp) {
    auto six = six_numbers(hp);
    if (!six) return std::nullopt;
    return "Entering Passive Mode (" + *six + ").";
}

std::optional<host_port> parse_eprt_arg(std::string_view arg) {
    if (arg.size() < 2) return std::nullopt;
    const char d = arg[0];
    if (d < 33 || d > 126 || is_digit(d)) return std::nullopt;
    // Exactly: d family d address d port d
    std::vector<std::string_view> fields;
    std::size_t i = 1;
    while (i < arg.size()) {
        auto next = arg.find(d, i);
        if (next == std::string_view::npos) return std::nullopt;  // missing closing delimiter
        fields.push_back(arg.substr(i, next - i));
        i = next + 1;
    }
    if (fields.size() != 3) return std::nullopt;
    host_port hp;
    if (fields[0] == "1") {
        if (!is_ipv4(fields[1])) return std::nullopt;
        hp.family = 1;
    } else if (fields[0] == "2") {
        if (!is_ipv6(fields[1])) return std::nullopt;
        hp.family = 2;
    } else {
        return std::nullopt;
    }
    auto port = parse_port(fields[2]);
    if (!port) return std::nullopt;
    hp.host.assign(fields[1]);
    hp.port = *port;
    return hp;
}

std::string format_eprt_arg(const host_port& hp) {
    int family = hp.family != 0 ? hp.family : (is_ipv6(hp.host) ? 2 : 1);
    return "|" + std::to_string(family) + "|" + hp.host + "|" + std::to_string(hp.port) + "|";
}

std::optional<std::uint16_t> parse_epsv_reply(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '(' || i + 4 >= text.size()) continue;
        const char d = text[i + 1];
        if (d < 33 || d > 126 || is_digit(d)) continue;
        if (text[i + 2] != d || text[i + 3] != d) continue;
        auto end = text.find(d, i + 4);
        if (end == std::string_view::npos || end + 1 >= text.size() || text[end + 1] != ')') continue;
        if (auto port = parse_port(text.substr(i + 4, end - (i + 4)))) return port;
    }
    return std::nullopt;
}

std::string format_epsv_reply(std::uint16_t port) {
    return "Entering Extended Passive Mode (|||" + std::to_string(port) + "|)";
}

bool is_ipv4(std::string_view host) {
    unsigned char b[4];
    return pton(AF_INET, host, b);
}

bool is_ipv6(std::string_view host) {
    unsigned char b[16];
    return pton(AF_INET6, host, b);
}

std::string unmap_ipv4(std::string_view host) {
    unsigned char b[16];
    if (!pton(AF_INET6, host, b)) return std::string(host);
    static constexpr unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, prefix, sizeof prefix) != 0) return std::string(host);
    char out[INET_ADDRSTRLEN];
    if (!inet_ntop(AF_INET, b + 12, out, sizeof out)) return std::string(host);
    return out;
}

}  // namespace ferry::proto
