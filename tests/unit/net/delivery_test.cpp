// net::wait_delivered on real loopback connections: a live peer acknowledges what we wrote, a
// peer that closed its socket answers with a RST, a peer that stops reading leaves it pending.
#include "net/delivery.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using asio::ip::tcp;
using ferry::net::delivery;

namespace {

struct connected_pair {
    asio::io_context ctx;
    tcp::socket server{ctx}, client{ctx};
    connected_pair() {
        tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        client.connect(acc.local_endpoint());
        acc.accept(server);
    }
    std::optional<delivery> wait(std::chrono::milliseconds limit) {
        std::optional<delivery> out;
        asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { out = co_await ferry::net::wait_delivered(server, limit); },
                       asio::detached);
        ctx.run_for(10s);
        return out;
    }
};

}  // namespace

TEST(wait_delivered, a_live_peer_acknowledges) {
    connected_pair p;
    asio::write(p.server, asio::buffer(std::string("226 Transfer complete.\r\n")));
    EXPECT_EQ(p.wait(5000ms), delivery::acknowledged);
}

TEST(wait_delivered, a_peer_that_closed_its_socket_is_gone) {
    connected_pair p;
    p.client.close();  // as the kernel does for a killed client: FIN, then RST to later data
    asio::write(p.server, asio::buffer(std::string("226 Transfer complete.\r\n")));
    EXPECT_EQ(p.wait(5000ms), delivery::peer_gone);
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
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(p.wait(300ms), delivery::timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}
