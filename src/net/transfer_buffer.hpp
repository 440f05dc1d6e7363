#pragma once
// The data channel's transfer buffers, taken from the system's pages rather than the heap. A
// buffer given back returns its memory to the system once the process's transfers have ended (a
// small reserve stays, and a quiet server gives that back too), so a burst of transfers does not
// leave the server's RSS at the burst's height: glibc keeps blocks this size in its arenas once
// its mmap threshold has risen past them, and its arenas hand little back (issue 12's soak saw
// parked RSS swing by a quarter between readings). While transfers run, the process keeps as
// many spare buffers as it has buffers in use: with hundreds of busy sessions a new transfer
// then reuses pages instead of paying mmap, a page fault per 4 KiB touched and munmap's TLB
// flush (bench/: many busy sessions, 5 to 12% less server CPU per GiB).
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

    // Spare buffers the process keeps when no transfer runs.
    static constexpr std::size_t reserve = 8;

    // Gives every spare buffer back to the system (a server with no transfer running).
    static void release_spares();

private:
    char* data_;
};

}  // namespace ferry::net
