#pragma once
// A command argument that must be a whole decimal number and nothing else (REST, RANG, ...).
#include <charconv>
#include <cstdint>
#include <string_view>

namespace ferry::server::detail {

inline bool parse_u64(std::string_view s, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace ferry::server::detail
