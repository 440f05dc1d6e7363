#pragma once
// DOWNLOADRATE and UPLOADRATE: how long a transfer waits between pieces so that its bytes keep
// to a rate. Each piece earns its time (bytes / rate) after the previous one's; a transfer that
// fell behind (a slow disk, a slow peer) may catch up by at most `credit`, so the rate also
// holds over any stretch of a second, not only over the whole transfer. Pieces are an eighth
// of a second's worth, so the bytes flow evenly within the second too. No I/O here.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace ferry::net {

class pacer {
public:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds credit{100};

    explicit pacer(std::uint64_t bytes_per_second) : rate_(bytes_per_second) {}

    std::uint64_t rate() const { return rate_; }
    // The most to move in one piece, at most `most`.
    std::size_t piece(std::size_t most) const;
    // After n more bytes moved at `now`: how long to wait before moving more (zero if none).
    clock::duration after(std::size_t n, clock::time_point now = clock::now());

private:
    std::uint64_t rate_;
    std::optional<clock::time_point> next_;  // when the bytes moved so far were due
};

}  // namespace ferry::net
