#pragma once
// How the CLI shows listing entries and transfer figures (pure formatting, no terminal).
#include <cstdint>
#include <string>

#include "proto/list_parse.hpp"

namespace ferry::client {

// "drwxr-x---           4096 2024-01-02 03:04 name" (UTC; a blank time when the server sent
// none; "-> target" for a link whose target is known). The name is as sent: the caller makes
// it printable.
std::string long_line(const proto::list_entry& e);

// "512 B", "4.5 MiB": binary units, one decimal above bytes.
std::string human_bytes(double n);
// human_bytes per second; a zero duration counts as a millisecond.
std::string human_rate(std::uint64_t bytes, double seconds);

}  // namespace ferry::client
