// net::priority_loop: on a thread it runs, whatever is ready goes ahead of the next piece of a
// big transfer, yet a stream of commands cannot hold a piece back for ever, and pieces still
// parked when the loop stops are dropped, not leaked.
#include "net/priority_loop.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

using ferry::net::priority_loop;
using ferry::net::wait_bulk_turn;

namespace {

// A transfer of `pieces` pieces that posts `commands` other handlers right after its first one.
asio::awaitable<void> transfer(asio::io_context& io, std::vector<std::string>& order, int pieces, int commands) {
    for (int i = 0; i < pieces; ++i) {
        order.push_back("piece " + std::to_string(i));
        if (i == 0)
            for (int k = 0; k < commands; ++k) asio::post(io, [&order, k] { order.push_back("command " + std::to_string(k)); });
        if (i + 1 < pieces) co_await wait_bulk_turn();
    }
}

TEST(priority_loop, ready_commands_run_before_the_next_piece) {
    asio::io_context io(1);
    std::vector<std::string> order;
    asio::co_spawn(io, transfer(io, order, 3, 4), asio::detached);
    priority_loop loop(io);
    loop.run();  // returns once the transfer is done: out of work
    const std::vector<std::string> want{"piece 0", "command 0", "command 1", "command 2",
                                        "command 3", "piece 1", "piece 2"};
    EXPECT_EQ(order, want);
}

TEST(priority_loop, without_one_the_turn_comes_at_once) {
    asio::io_context io(1);
    std::vector<std::string> order;
    asio::co_spawn(io, transfer(io, order, 2, 1), asio::detached);
    io.run();  // a plain io_context (the client, tests): the transfer never waits
    const std::vector<std::string> want{"piece 0", "piece 1", "command 0"};
    EXPECT_EQ(order, want);
}

TEST(priority_loop, endless_commands_do_not_starve_a_piece) {
    asio::io_context io(1);
    std::size_t commands = 0;
    std::size_t commands_before_piece = 0;
    bool piece_moved = false;
    // A handler that is always ready again (a busy thread's other sessions).
    struct repost {
        asio::io_context& io;
        std::size_t& n;
        bool& stop;
        void operator()() const {
            ++n;
            if (!stop) asio::post(io, *this);
        }
    };
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        asio::post(io, repost{io, commands, piece_moved});
        co_await wait_bulk_turn();
        commands_before_piece = commands;
        piece_moved = true;
    }, asio::detached);
    priority_loop loop(io);
    loop.run();
    EXPECT_TRUE(piece_moved);
    EXPECT_GE(commands_before_piece, 1u);
    EXPECT_LE(commands_before_piece, priority_loop::interactive_burst);
}

TEST(priority_loop, parked_pieces_are_dropped_when_it_stops) {
    auto io = std::make_unique<asio::io_context>(1);
    auto held = std::make_shared<int>(0);  // lives as long as the transfer's coroutine
    std::weak_ptr<int> watch = held;
    bool resumed = false;
    asio::co_spawn(*io, [&io = *io, &resumed, held = std::move(held)]() -> asio::awaitable<void> {
        asio::post(io, [&io] { io.stop(); });  // runs first, while the piece waits
        co_await wait_bulk_turn();
        resumed = true;
    }, asio::detached);
    {
        priority_loop loop(*io);
        loop.run();
    }
    EXPECT_FALSE(resumed);
    EXPECT_EQ(priority_loop::of_this_thread(), nullptr);
    // Asio unwinds a dropped coroutine through its io_context: it is gone with the context.
    io.reset();
    EXPECT_TRUE(watch.expired());
}

}  // namespace
