#pragma once
// An event thread's loop with two levels: the handlers that are ready (commands, replies,
// handshakes, accepts, a small file's one piece) run ahead of the next piece of a big transfer.
// A transfer calls wait_bulk_turn() before each full piece (256 KiB); on a thread run by a
// priority_loop it waits there until the thread has nothing else ready (or has run
// `interactive_burst` handlers since the last piece), so a 4 KiB file's steps do not queue
// behind the encryption of other sessions' megabytes. Parked pieces are served in order, one at
// a time, so big transfers still share the thread evenly. Elsewhere (the client, tests that run
// an io_context themselves) wait_bulk_turn() returns at once.
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <cstddef>
#include <deque>
#include <memory>

namespace ferry::net {

class priority_loop {
public:
    // High-priority handlers run between two bulk pieces at most (bounds how long a piece can
    // be held back while commands keep coming).
    static constexpr std::size_t interactive_burst = 32;

    explicit priority_loop(asio::io_context& io) : io_(io) {}
    priority_loop(const priority_loop&) = delete;
    priority_loop& operator=(const priority_loop&) = delete;

    // Runs io on this thread until it is stopped or out of work (like io_context::run). Pieces
    // still parked then are dropped: Asio unwinds their coroutines through io, so they are
    // destroyed with it.
    void run();

    // The loop running on the calling thread, or null.
    static priority_loop* of_this_thread();

    // A suspended transfer: resuming it posts its continuation to its io_context.
    struct parked {
        virtual ~parked() = default;
        virtual void resume() = 0;
    };
    void park(std::unique_ptr<parked> p) { parked_.push_back(std::move(p)); }

private:
    void release_one();

    asio::io_context& io_;
    std::deque<std::unique_ptr<parked>> parked_;
};

// Waits until this thread's priority_loop lets the next bulk piece go (at once without one).
inline asio::awaitable<void> wait_bulk_turn() {
    priority_loop* loop = priority_loop::of_this_thread();
    if (loop == nullptr) co_return;
    auto initiate = [loop](auto handler) {
        // The tracked executor keeps the io_context from counting itself out of work while the
        // coroutine waits here, outside its queues.
        auto ex = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
        using handler_type = decltype(handler);
        using executor_type = decltype(ex);
        struct waiting final : priority_loop::parked {
            waiting(handler_type h, executor_type e) : handler(std::move(h)), executor(std::move(e)) {}
            void resume() override { asio::post(executor, std::move(handler)); }
            handler_type handler;
            executor_type executor;
        };
        loop->park(std::make_unique<waiting>(std::move(handler), std::move(ex)));
    };
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(std::move(initiate), asio::use_awaitable);
}

}  // namespace ferry::net
