#pragma once
// Values written the same way in the configuration file and in the users file: a rate in bytes a
// second and a subnet. Text only, no sockets.
#include <cstdint>
#include <optional>
#include <string_view>

namespace ferry::config {

// "0" (no limit), or a number from 1024 with an optional K, M or G (1024, 1024^2, 1024^3; either
// case) up to 1 TiB/s: "512K", "10M". Anything else: nothing.
std::optional<std::uint64_t> parse_rate(std::string_view text);
inline constexpr std::string_view rate_syntax =
    "0 (no limit), or 1024 and more, with K, M or G allowed (512K, 10M)";

// "192.168.0.0/16", "2001:db8::/32": a numeric address, '/', and at most 32 (IPv4) or 128 bits.
bool is_subnet(std::string_view text);

}  // namespace ferry::config
