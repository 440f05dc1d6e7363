// Transfer buffers (net/transfer_buffer.hpp): once the transfers have ended, memory beyond the
// reserve goes back to the system, and the reserve too when the server asks; while transfers run,
// a finished transfer's buffers serve the next ones.
#include "net/transfer_buffer.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace {

using ferry::net::transfer_buffer;

long rss_kib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool on_heap = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool on_heap = true;
#else
constexpr bool on_heap = false;
#endif
#else
constexpr bool on_heap = false;
#endif

TEST(transfer_buffer, memory_beyond_the_reserve_goes_back_to_the_system_at_once) {
    if (on_heap) GTEST_SKIP() << "under AddressSanitizer the buffers come from the heap";
    constexpr std::size_t beyond = 8;
    std::vector<transfer_buffer> held(transfer_buffer::reserve + beyond);
    for (auto& b : held) std::memset(b.get(), 0x5a, transfer_buffer::capacity);  // every page in RSS
    const long during = rss_kib();
    held.clear();
    const long after = rss_kib();
    // At least half of it: the kernel's RSS counters are per-CPU and may lag by a few pages (a
    // clean-clone CI run read 2,016 KiB of 2,080 given back).
    EXPECT_GE(during - after, static_cast<long>(beyond * transfer_buffer::capacity / 1024 / 2))
        << "RSS " << during << " KiB while held, " << after << " KiB after";
}

TEST(transfer_buffer, released_spares_go_back_to_the_system) {
    if (on_heap) GTEST_SKIP() << "under AddressSanitizer the buffers come from the heap";
    std::vector<transfer_buffer> held(transfer_buffer::reserve);
    for (auto& b : held) std::memset(b.get(), 0x5a, transfer_buffer::capacity);
    held.clear();  // all of them kept as spares
    const long kept = rss_kib();
    transfer_buffer::release_spares();
    const long released = rss_kib();
    EXPECT_GE(kept - released, static_cast<long>(transfer_buffer::reserve * transfer_buffer::capacity / 1024 / 2))
        << "RSS " << kept << " KiB with the spares, " << released << " KiB after releasing them";
    transfer_buffer again;  // taken from the system anew, and whole
    std::memset(again.get(), 0x33, transfer_buffer::capacity);
}

TEST(transfer_buffer, the_next_transfer_takes_a_buffer_from_the_reserve) {
    char* first = nullptr;
    {
        transfer_buffer b;
        first = b.get();
        b[transfer_buffer::capacity - 1] = 'x';  // the whole capacity is usable
    }
    transfer_buffer again;
    EXPECT_EQ(again.get(), first);
}

TEST(transfer_buffer, while_other_transfers_run_the_buffers_of_finished_ones_serve_the_next) {
    constexpr std::size_t ended = transfer_buffer::reserve * 2;  // more than the reserve
    std::vector<transfer_buffer> running(ended * 2);
    std::set<char*> given_back;
    for (std::size_t i = 0; i < ended; ++i) {
        given_back.insert(running.back().get());
        running.pop_back();
    }
    std::vector<transfer_buffer> next(ended);
    for (const auto& b : next) EXPECT_EQ(given_back.count(b.get()), 1u) << "a new buffer, not a spare one";
}

TEST(transfer_buffer, moves_and_swaps_own_their_memory_once) {
    transfer_buffer a, b;
    char* pa = a.get();
    char* pb = b.get();
    std::swap(a, b);
    EXPECT_EQ(a.get(), pb);
    EXPECT_EQ(b.get(), pa);
    transfer_buffer c(std::move(a));
    EXPECT_EQ(c.get(), pb);
    EXPECT_EQ(a.get(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
}

}  // namespace
