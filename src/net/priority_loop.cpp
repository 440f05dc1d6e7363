#include "net/priority_loop.hpp"

namespace ferry::net {

namespace {
thread_local priority_loop* current_loop = nullptr;
}

priority_loop* priority_loop::of_this_thread() { return current_loop; }

void priority_loop::release_one() {
    std::unique_ptr<parked> p = std::move(parked_.front());
    parked_.pop_front();
    p->resume();
}

void priority_loop::run() {
    current_loop = this;
    std::size_t since_piece = 0;
    while (!io_.stopped()) {
        if (parked_.empty()) {
            // Nothing held back: block for the next handler, as io_context::run would.
            if (io_.run_one() > 0) ++since_piece;
            continue;
        }
        // Something ready runs first (poll_one also collects new events without blocking).
        if (since_piece < interactive_burst && io_.poll_one() > 0) {
            ++since_piece;
            continue;
        }
        release_one();
        since_piece = 0;
        io_.run_one();  // the piece just released (or something that became ready before it)
    }
    parked_.clear();
    current_loop = nullptr;
}

}  // namespace ferry::net
