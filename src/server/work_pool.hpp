#pragma once
// A few threads for work that must not run on the event threads: password hashing (crypt_r,
// 3 ms for SHA-512 and 90 ms for yescrypt) and disk work that can take long (big folders, slow
// file systems). An event thread serves hundreds of sessions; one crypt_r there stalls them all.
//
// Bounded: a fixed number of threads, optionally run at a lower priority (nice) than the event
// threads: the hashing pool is, so that a flood of logins slows logins, not the sessions already
// working. Each session waits for its own job, so at most one job per session is queued
// (MAXSESSIONS bounds the queue).
#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/io_context.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace ferry::server {

class work_pool {
public:
    // nice: added to the threads' niceness (Linux schedules threads apart), 0 keeps it.
    work_pool(std::string name, unsigned threads, int nice);
    // No threads: each job runs at once on the awaiting thread (tests/transcript: dialogues
    // in-process, one thread, the same order every run).
    struct inline_jobs_t {};
    static constexpr inline_jobs_t inline_jobs{};
    explicit work_pool(inline_jobs_t) : guard_(ctx_.get_executor()), inline_(true) {}
    ~work_pool();
    work_pool(const work_pool&) = delete;
    work_pool& operator=(const work_pool&) = delete;
    // Finishes the running jobs, drops queued ones, joins the threads.
    void stop();
    unsigned threads() const { return static_cast<unsigned>(threads_.size()); }

    // Runs fn() on a pool thread; the awaiting coroutine resumes on its own executor with the
    // result (an exception thrown by fn is rethrown there). fn must not touch the session.
    template <class F>
    auto run(F fn) -> asio::awaitable<std::invoke_result_t<F&>> {
        using R = std::invoke_result_t<F&>;
        if (inline_) co_return fn();
        auto initiate = [this, fn = std::move(fn)](auto handler) mutable {
            // Keeps the session's io_context alive (and lets the result be posted back to it).
            auto ex = asio::prefer(asio::get_associated_executor(handler),
                                   asio::execution::outstanding_work.tracked);
            asio::post(ctx_, [fn = std::move(fn), handler = std::move(handler), ex]() mutable {
                std::exception_ptr e;
                std::optional<R> r;
                try {
                    r.emplace(fn());
                } catch (...) {
                    e = std::current_exception();
                }
                asio::post(ex, [handler = std::move(handler), e, r = std::move(r)]() mutable {
                    std::move(handler)(e, r ? std::move(*r) : R{});
                });
            });
        };
        co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, R)>(
            std::move(initiate), asio::use_awaitable);
    }

private:
    asio::io_context ctx_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_;
    std::vector<std::thread> threads_;
    bool inline_ = false;
};

// The server's worker pools, owned by the server, which outlives its sessions.
struct worker_pools {
    work_pool& hash;  // crypt_r
    work_pool& disk;  // the file-system calls of commands: opening, committing, listings
    // The bytes of transfers: reads, writes and sendfile trips of up to 256 KiB each. A lane of
    // its own, so that a small file's open or rename does not queue behind the writes of big
    // uploads (bench/: busy sessions).
    work_pool& bulk;
    work_pool& digest;  // HASH and X* file digests: a few at a time, each may read a whole file
};

}  // namespace ferry::server
