// net::wait_delivered on real loopback connections: a live peer acknowledges what we wrote and
// stays, speaks or closes cleanly; a peer that closed its socket, or closes it with our bytes
// unread, resets the connection; a peer that stops reading leaves them pending.
#include "net/delivery.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using asio::ip::tcp;
using ferry::net::delivery;

namespace {

const std::string reply = "226 Transfer complete.\r\n";

struct connected_pair {
    asio::io_context ctx;
    tcp::socket server{ctx}, client{ctx};
    connected_pair() {
        tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        client.connect(acc.local_endpoint());
        acc.accept(server);
    }
    // Writes the reply and waits for its delivery; `meanwhile` runs on another thread (the client).
    std::optional<delivery> send_and_wait(std::chrono::milliseconds limit, std::chrono::milliseconds settle,
                                          std::function<void()> meanwhile = {}) {
        asio::write(server, asio::buffer(reply));
        auto mark = ferry::net::mark_now(server);
        std::optional<delivery> out;
        asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { out = co_await ferry::net::wait_delivered(server, mark, limit, settle); },
                       asio::detached);
        std::thread peer;
        if (meanwhile) peer = std::thread(meanwhile);
        ctx.restart();
        ctx.run_for(10s);
        if (peer.joinable()) peer.join();
        return out;
    }
    std::string read_reply() {
        std::string got(reply.size(), '\0');
        asio::read(client, asio::buffer(got));
        return got;
    }
};

}  // namespace

TEST(wait_delivered, a_live_peer_that_stays_is_acknowledged_after_the_settle_time) {
    connected_pair p;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(p.send_and_wait(5000ms, 100ms), delivery::acknowledged);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
    EXPECT_EQ(p.read_reply(), reply);
}

TEST(wait_delivered, a_peer_that_speaks_or_closes_cleanly_is_acknowledged_at_once) {
    {
        connected_pair p;
        auto r = p.send_and_wait(5000ms, 5000ms, [&] {
            p.read_reply();
            asio::write(p.client, asio::buffer(std::string("QUIT\r\n")));
        });
        EXPECT_EQ(r, delivery::acknowledged);
    }
    {
        connected_pair p;
        const auto start = std::chrono::steady_clock::now();
        auto r = p.send_and_wait(5000ms, 5000ms, [&] {
            EXPECT_EQ(p.read_reply(), reply);
            p.client.close();  // read everything: a FIN, no RST
        });
        EXPECT_EQ(r, delivery::acknowledged);
        EXPECT_LT(std::chrono::steady_clock::now() - start, 4000ms);
    }
}

TEST(wait_delivered, a_peer_that_closed_its_socket_is_gone) {
    connected_pair p;
    p.client.close();  // as the kernel does for a killed client: FIN, then RST to later data
    EXPECT_EQ(p.send_and_wait(5000ms, 100ms), delivery::peer_gone);
}

TEST(wait_delivered, a_peer_that_dies_with_the_reply_unread_is_gone_though_it_was_acknowledged) {
    connected_pair p;
    auto r = p.send_and_wait(5000ms, 5000ms, [&] {
        // The reply is in the client's receive queue (its kernel acknowledged it); closing with
        // unread data sends a RST, as a killed process's exit does.
        std::this_thread::sleep_for(20ms);  // let the ACK go out first; the outcome must not depend on it
        p.client.close();
    });
    EXPECT_EQ(r, delivery::peer_gone);
}

TEST(wait_delivered, a_peer_that_stops_reading_times_out) {
    connected_pair p;
    int small = 4096;
    ::setsockopt(p.client.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    p.server.non_blocking(true);
    std::vector<char> chunk(1 << 20, 'x');
    std::error_code ec;
    while (!ec) p.server.write_some(asio::buffer(chunk), ec);  // fill both buffers
    ASSERT_EQ(ec, asio::error::would_block);
    auto mark = ferry::net::mark_now(p.server);
    std::optional<delivery> out;
    asio::co_spawn(p.ctx, [&]() -> asio::awaitable<void> { out = co_await ferry::net::wait_delivered(p.server, mark, 300ms, 10ms); },
                   asio::detached);
    const auto start = std::chrono::steady_clock::now();
    p.ctx.run_for(10s);
    EXPECT_EQ(out, delivery::timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}
