#include "net/transfer_buffer.hpp"

#include <sys/mman.h>

#include <algorithm>
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

// This thread's spare buffers, and how many of its buffers are in use (a buffer given back on
// another thread than the one that took it only shifts the two counts).
struct reserve {
    std::vector<char*> blocks;
    std::size_t in_use = 0;
    reserve() = default;
    reserve(const reserve&) = delete;
    reserve& operator=(const reserve&) = delete;
    ~reserve() {
        for (char* b : blocks) give_back_pages(b);
    }
};

thread_local reserve spare;

char* take_buffer() {
    ++spare.in_use;
    if (spare.blocks.empty()) return take_pages();
    char* b = spare.blocks.back();
    spare.blocks.pop_back();
    return b;
}

void give_back_buffer(char* b) {
    if (spare.in_use > 0) --spare.in_use;
    const std::size_t keep = std::max(transfer_buffer::reserve_per_thread, spare.in_use);
    if (spare.blocks.size() < keep) {
        try {
            spare.blocks.push_back(b);
            return;
        } catch (const std::bad_alloc&) {  // no room to remember it: it goes back now
        }
    }
    give_back_pages(b);
    // As the thread's transfers end, the spares beyond what is still in use go back too.
    while (spare.blocks.size() > keep) {
        give_back_pages(spare.blocks.back());
        spare.blocks.pop_back();
    }
}

}  // namespace

transfer_buffer::transfer_buffer() : data_(take_buffer()) {}

transfer_buffer::~transfer_buffer() {
    if (data_) give_back_buffer(data_);
}

transfer_buffer& transfer_buffer::operator=(transfer_buffer&& o) noexcept {
    std::swap(data_, o.data_);
    return *this;
}

}  // namespace ferry::net
