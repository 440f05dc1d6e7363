#include "net/transfer_buffer.hpp"

#include <sys/mman.h>

#include <array>
#include <new>
#include <utility>

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

struct reserve {
    std::array<char*, transfer_buffer::reserve_per_thread> blocks{};
    std::size_t count = 0;
    reserve() = default;
    reserve(const reserve&) = delete;
    reserve& operator=(const reserve&) = delete;
    ~reserve() {
        while (count > 0) give_back_pages(blocks[--count]);
    }
};

thread_local reserve spare;

}  // namespace

transfer_buffer::transfer_buffer() : data_(spare.count > 0 ? spare.blocks[--spare.count] : take_pages()) {}

transfer_buffer::~transfer_buffer() {
    if (!data_) return;
    if (spare.count < spare.blocks.size())
        spare.blocks[spare.count++] = data_;
    else
        give_back_pages(data_);
}

transfer_buffer& transfer_buffer::operator=(transfer_buffer&& o) noexcept {
    std::swap(data_, o.data_);
    return *this;
}

}  // namespace ferry::net
