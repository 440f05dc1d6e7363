#pragma once
// The data channel's transfer buffers, taken from the system's pages rather than the heap. A
// buffer given back returns its memory to the system (beyond a small reserve per thread), so a
// burst of transfers does not leave the server's RSS at the burst's height: glibc keeps blocks
// this size in its arenas once its mmap threshold has risen past them, and its arenas hand
// little back (issue 12's soak saw parked RSS swing by a quarter between readings). The reserve
// keeps a run of small files free of mmap and munmap calls.
#include <cstddef>

namespace ferry::net {

class transfer_buffer {
public:
    // Room for one 256 KiB piece and a byte held back by TYPE A conversion (one page more).
    static constexpr std::size_t capacity = 256 * 1024 + 4096;

    transfer_buffer();  // throws std::bad_alloc when the system has no pages
    ~transfer_buffer();
    transfer_buffer(transfer_buffer&& o) noexcept : data_(o.data_) { o.data_ = nullptr; }
    transfer_buffer& operator=(transfer_buffer&& o) noexcept;
    transfer_buffer(const transfer_buffer&) = delete;
    transfer_buffer& operator=(const transfer_buffer&) = delete;

    char* get() const { return data_; }
    char& operator[](std::size_t i) const { return data_[i]; }

    // Buffers this thread keeps for its next transfers instead of giving them back.
    static constexpr std::size_t reserve_per_thread = 4;

private:
    char* data_;
};

}  // namespace ferry::net
