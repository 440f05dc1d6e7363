// The worker pool that keeps crypt_r and long disk work off the event threads (issue 10). New
// class: does not build on the old code, which hashed passwords on the event threads.
#include "server/work_pool.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

using ferry::server::work_pool;

TEST(work_pool, result_comes_back_on_the_awaiting_thread_while_it_serves_others) {
    work_pool pool("test-pool", 2, 0);
    asio::io_context io;
    const auto io_thread = std::this_thread::get_id();
    std::atomic<bool> release{false};
    std::string result;
    std::thread::id job_thread, resumed_thread;
    int ticks_meanwhile = 0;
    bool done = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        result = co_await pool.run([&] {
            job_thread = std::this_thread::get_id();
            while (!release) std::this_thread::yield();  // a long job
            return std::string("hashed");
        });
        resumed_thread = std::this_thread::get_id();
        done = true;
    }, asio::detached);
    // The event thread keeps running other handlers while the job runs.
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io);
        for (int i = 0; i < 5; ++i) {
            t.expires_after(std::chrono::milliseconds(1));
            co_await t.async_wait(asio::use_awaitable);
            ++ticks_meanwhile;
        }
        release = true;
    }, asio::detached);
    io.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(done);
    EXPECT_EQ(ticks_meanwhile, 5);
    EXPECT_EQ(result, "hashed");
    EXPECT_NE(job_thread, io_thread);
    EXPECT_EQ(resumed_thread, io_thread);
}

TEST(work_pool, an_exception_reaches_the_awaiting_coroutine) {
    work_pool pool("test-pool", 1, 0);
    asio::io_context io;
    std::string what;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        try {
            co_await pool.run([]() -> int { throw std::runtime_error("disk gone"); });
        } catch (const std::exception& e) {
            what = e.what();
        }
    }, asio::detached);
    io.run_for(std::chrono::seconds(10));
    EXPECT_EQ(what, "disk gone");
}

TEST(work_pool, many_jobs_from_many_coroutines) {
    work_pool pool("test-pool", 3, 0);
    asio::io_context io;
    int sum = 0;
    for (int i = 0; i < 200; ++i)
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
            std::string s = co_await pool.run([i] { return std::string(static_cast<std::size_t>(i), 'x'); });
            sum += static_cast<int>(s.size());
        }, asio::detached);
    io.run_for(std::chrono::seconds(10));
    EXPECT_EQ(sum, 199 * 200 / 2);
}
