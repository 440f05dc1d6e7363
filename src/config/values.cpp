#include "config/values.hpp"

#include <charconv>

#include "config/detail/arguments.hpp"

namespace ferry::config {

std::optional<std::uint64_t> parse_rate(std::string_view s) {
    std::uint64_t unit = 1;
    if (!s.empty()) {
        switch (s.back()) {
            case 'k': case 'K': unit = 1ull << 10; break;
            case 'm': case 'M': unit = 1ull << 20; break;
            case 'g': case 'G': unit = 1ull << 30; break;
            default: break;
        }
        if (unit != 1) s.remove_suffix(1);
    }
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    constexpr std::uint64_t most = 1ull << 40;  // 1 TiB/s: beyond any link
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || n > most / unit || (n != 0 && n * unit < 1024))
        return std::nullopt;
    return n * unit;
}

bool is_subnet(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos || !detail::ip_literal(text.substr(0, slash))) return false;
    const std::string_view b = text.substr(slash + 1);
    unsigned bits = 0;
    auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (b.empty() || b.size() > 3 || ec != std::errc() || p != b.data() + b.size()) return false;
    const bool v6 = text.substr(0, slash).find(':') != std::string_view::npos;
    return bits <= (v6 ? 128u : 32u);
}

}  // namespace ferry::config
