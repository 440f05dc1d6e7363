#include "net/transfer_buffer.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

// Under AddressSanitizer the buffers come from the heap, where it sees an overflow (it does not
// watch pages from mmap).
#if defined(__SANITIZE_ADDRESS__)
#define FERRY_TRANSFER_BUFFERS_ON_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_TRANSFER_BUFFERS_ON_HEAP 1
#endif
#endif

namespace ferry::net {
namespace {

char* take_pages() {
#ifdef FERRY_TRANSFER_BUFFERS_ON_HEAP
    return new char[transfer_buffer::capacity];
#else
    void* p = ::mmap(nullptr, transfer_buffer::capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<char*>(p);
#endif
}

void give_back_pages(char* p) {
#ifdef FERRY_TRANSFER_BUFFERS_ON_HEAP
    delete[] p;
#else
    ::munmap(p, transfer_buffer::capacity);
#endif
}

// The process's spare buffers, and how many of its buffers are in use. One reserve shared by all
// threads: a buffer may be given back on another thread than the one that took it, and the quiet
// server (release_spares) reaches all of them. Immortal, so a buffer given back during exit
// still finds it.
struct spare_pool {
    std::mutex m;
    std::vector<char*> blocks;
    std::size_t in_use = 0;
};

spare_pool& spares() {
    static spare_pool* r = new spare_pool;  // NOLINT(cppcoreguidelines-owning-memory): never destroyed
    return *r;
}

char* take_buffer() {
    spare_pool& r = spares();
    {
        std::lock_guard lock(r.m);
        ++r.in_use;
        if (!r.blocks.empty()) {
            char* b = r.blocks.back();
            r.blocks.pop_back();
            return b;
        }
    }
    try {
        return take_pages();
    } catch (const std::bad_alloc&) {
        std::lock_guard lock(r.m);
        --r.in_use;
        throw;
    }
}

void give_back_buffer(char* b) {
    spare_pool& r = spares();
    // Given back to the system after the lock (munmap flushes other threads' TLBs): this buffer
    // if the reserve has no room for it, and one spare, as keep falls by at most one per call.
    char* to_system[2] = {b, nullptr};
    {
        std::lock_guard lock(r.m);
        if (r.in_use > 0) --r.in_use;
        const std::size_t keep = std::max(transfer_buffer::reserve, r.in_use);
        if (r.blocks.size() < keep) {
            try {
                r.blocks.push_back(b);
                to_system[0] = nullptr;
            } catch (const std::bad_alloc&) {  // no room to remember it: it goes back now
            }
        }
        // As transfers end, the spares beyond what is still in use go back too.
        if (r.blocks.size() > keep) {
            to_system[1] = r.blocks.back();
            r.blocks.pop_back();
        }
    }
    for (char* p : to_system)
        if (p) give_back_pages(p);
}

}  // namespace

void transfer_buffer::release_spares() {
    std::vector<char*> blocks;
    {
        spare_pool& r = spares();
        std::lock_guard lock(r.m);
        blocks.swap(r.blocks);
    }
    for (char* b : blocks) give_back_pages(b);
}

transfer_buffer::transfer_buffer() : data_(take_buffer()) {}

transfer_buffer::~transfer_buffer() {
    if (data_) give_back_buffer(data_);
}

transfer_buffer& transfer_buffer::operator=(transfer_buffer&& o) noexcept {
    std::swap(data_, o.data_);
    return *this;
}

}  // namespace ferry::net
