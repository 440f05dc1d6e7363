#include "net/pacer.hpp"

#include <algorithm>

namespace ferry::net {

std::size_t pacer::piece(std::size_t most) const {
    const std::uint64_t eighth = std::max<std::uint64_t>(rate_ / 8, 1024);
    return static_cast<std::size_t>(std::min<std::uint64_t>(most, eighth));
}

pacer::clock::duration pacer::after(std::size_t n, clock::time_point now) {
    const auto earned = std::chrono::duration_cast<clock::duration>(
        std::chrono::duration<double>(static_cast<double>(n) / static_cast<double>(rate_)));
    const clock::time_point from = next_ ? std::max(*next_, now - credit) : now;
    next_ = from + earned;
    return *next_ > now ? *next_ - now : clock::duration::zero();
}

}  // namespace ferry::net
