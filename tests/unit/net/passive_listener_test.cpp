// net::passive_listener and net::connect_active with a real io_context, on loopback only
// (127.0.0.1; 127.0.0.2 stands in for a foreign host: it is in 127.0.0.0/8, so it is local too).
// Every test is bounded by a deadline.
#include "net/passive_listener.hpp"
#include "net/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <list>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using asio::ip::make_address;
using asio::ip::tcp;
using ferry::net::connect_active;
using ferry::net::passive_listener;

namespace {

constexpr auto deadline = 10s;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
const auto loopback = make_address("127.0.0.1");
const auto foreign = make_address("127.0.0.2");

// Runs coroutines to completion, or until the deadline. An exception inside one fails the test.
struct runner {
    asio::io_context ctx;
    int running = 0;
    std::vector<std::string> failures;

    // The coroutine bodies are lambdas with captures: they are kept here, alive until the end of
    // the test, because a coroutine frame refers to its lambda object rather than copying it.
    std::list<std::function<asio::awaitable<void>()>> bodies;

    template <class Body>
    void spawn(Body body) {
        ++running;
        bodies.emplace_back(std::move(body));
        asio::co_spawn(ctx, bodies.back()(), [this](std::exception_ptr e) {
            --running;
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                failures.push_back(x.what());
            }
        });
    }
    // Returns true when every coroutine finished before the deadline.
    bool run() {
        ctx.run_for(deadline);
        for (const auto& f : failures) ADD_FAILURE() << "exception in coroutine: " << f;
        return running == 0;
    }
};

// A range of `n` consecutive ports that are free now, outside the ephemeral range (so that
// the kernel does not hand them to someone else's connection meanwhile).
std::uint16_t free_range(std::uint16_t n) {
    static std::minstd_rand rng{std::random_device{}()};
    asio::io_context ctx;
    for (int attempt = 0; attempt < 200; ++attempt) {
        auto base = static_cast<std::uint16_t>(std::uniform_int_distribution<int>(20000, 30000)(rng));
        bool ok = true;
        for (std::uint16_t i = 0; i < n && ok; ++i) {
            tcp::acceptor probe(ctx);
            std::error_code ec;
            probe.open(tcp::v4(), ec);
            probe.set_option(tcp::acceptor::reuse_address(true), ec);
            probe.bind(tcp::endpoint(loopback, static_cast<std::uint16_t>(base + i)), ec);
            ok = !ec;
        }
        if (ok) return base;
    }
    ADD_FAILURE() << "no free port range of " << n << " found";
    return 0;
}

asio::awaitable<std::error_code> connect_from(tcp::socket& s, const asio::ip::address& from, std::uint16_t port) {
    std::error_code ec;
    s.open(tcp::v4(), ec);
    if (!ec) s.bind(tcp::endpoint(from, 0), ec);
    if (ec) co_return ec;
    auto [cec] = co_await s.async_connect(tcp::endpoint(loopback, port), as_tuple);
    co_return cec;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// open(): port leases

TEST(passive_listener, any_ephemeral_port_when_no_range) {
    asio::io_context ctx;
    passive_listener l(ctx.get_executor());
    EXPECT_FALSE(l.is_open());
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    EXPECT_TRUE(l.is_open());
    EXPECT_NE(l.port(), 0);
    // It really listens there.
    tcp::socket c(ctx);
    std::error_code ec;
    c.connect(tcp::endpoint(loopback, l.port()), ec);
    EXPECT_EQ(ec, std::error_code{});
    l.close();
    EXPECT_FALSE(l.is_open());
}

TEST(passive_listener, port_range_is_honoured_until_full) {
    constexpr std::uint16_t n = 4;
    const std::uint16_t low = free_range(n);
    ASSERT_NE(low, 0);
    const std::uint16_t high = low + n - 1;
    asio::io_context ctx;
    std::vector<std::unique_ptr<passive_listener>> ls;
    std::set<std::uint16_t> ports;
    for (int i = 0; i < n; ++i) {
        ls.push_back(std::make_unique<passive_listener>(ctx.get_executor()));
        ASSERT_EQ(ls.back()->open(loopback, low, high), std::error_code{}) << "listener " << i;
        EXPECT_TRUE(ls.back()->is_open());
        EXPECT_GE(ls.back()->port(), low);
        EXPECT_LE(ls.back()->port(), high);
        ports.insert(ls.back()->port());
    }
    EXPECT_EQ(ports.size(), std::size_t{n});  // each lease is its own port

    // The range is full: the next listener gets address_in_use and is not left open.
    passive_listener extra(ctx.get_executor());
    EXPECT_EQ(extra.open(loopback, low, high), make_error_code(asio::error::address_in_use));
    EXPECT_FALSE(extra.is_open());

    // Closing a listener releases its port: the next one gets exactly that port.
    const std::uint16_t released = ls[1]->port();
    ls[1]->close();
    EXPECT_FALSE(ls[1]->is_open());
    ASSERT_EQ(extra.open(loopback, low, high), std::error_code{});
    EXPECT_EQ(extra.port(), released);
}

TEST(passive_listener, single_port_range) {
    const std::uint16_t p = free_range(1);
    ASSERT_NE(p, 0);
    asio::io_context ctx;
    passive_listener a(ctx.get_executor()), b(ctx.get_executor());
    ASSERT_EQ(a.open(loopback, p, p), std::error_code{});
    EXPECT_EQ(a.port(), p);
    EXPECT_EQ(b.open(loopback, p, p), make_error_code(asio::error::address_in_use));
    EXPECT_FALSE(b.is_open());
}

TEST(passive_listener, reopen_closes_the_previous_lease) {
    asio::io_context ctx;
    passive_listener l(ctx.get_executor());
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    const auto first = l.port();
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    EXPECT_TRUE(l.is_open());
    // The first port no longer accepts connections.
    tcp::socket c(ctx);
    std::error_code ec;
    c.connect(tcp::endpoint(loopback, first), ec);
    if (l.port() != first) {
        EXPECT_EQ(ec, make_error_code(asio::error::connection_refused));
    }
}

TEST(passive_listener, range_works_with_ports_in_time_wait) {
    // A lease whose port just carried a connection can be taken again at once (SO_REUSEADDR).
    const std::uint16_t p = free_range(1);
    ASSERT_NE(p, 0);
    runner r;
    passive_listener l(r.ctx.get_executor());
    ASSERT_EQ(l.open(loopback, p, p), std::error_code{});
    bool done = false;
    r.spawn([&]() -> asio::awaitable<void> {
        tcp::socket server(r.ctx), client(r.ctx);
        ferry::net::refused_connections refused;
        auto cec = co_await connect_from(client, loopback, p);
        EXPECT_EQ(cec, std::error_code{});
        auto ec = co_await l.accept(server, loopback, refused);
        EXPECT_EQ(ec, std::error_code{});
        server.close();  // the server closes first: its side of the port enters TIME_WAIT
        client.close();
        done = true;
    });
    ASSERT_TRUE(r.run());
    ASSERT_TRUE(done);
    passive_listener again(r.ctx.get_executor());
    EXPECT_EQ(again.open(loopback, p, p), std::error_code{});
    EXPECT_EQ(again.port(), p);
}

// ---------------------------------------------------------------------------------------------
// accept(): connection stealing

TEST(passive_listener, accepts_the_required_peer) {
    runner r;
    passive_listener l(r.ctx.get_executor());
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    const auto port = l.port();
    ferry::net::refused_connections refused;
    std::error_code accept_ec = asio::error::would_block;
    std::string received;
    tcp::socket server(r.ctx);
    r.spawn([&]() -> asio::awaitable<void> {
        accept_ec = co_await l.accept(server, loopback, refused);
        if (accept_ec) co_return;
        std::string buf(5, '\0');
        auto [ec, n] = co_await asio::async_read(server, asio::buffer(buf), as_tuple);
        EXPECT_EQ(ec, std::error_code{});
        received = buf.substr(0, n);
    });
    r.spawn([&]() -> asio::awaitable<void> {
        tcp::socket c(r.ctx);
        EXPECT_EQ(co_await connect_from(c, loopback, port), std::error_code{});
        co_await asio::async_write(c, asio::buffer(std::string_view("hello")), as_tuple);
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(accept_ec, std::error_code{});
    EXPECT_EQ(refused.count, 0u);
    EXPECT_EQ(received, "hello");
    EXPECT_TRUE(server.is_open());
    EXPECT_EQ(server.remote_endpoint().address(), loopback);
    // One connection per lease: the listener is closed after it.
    EXPECT_FALSE(l.is_open());
}

TEST(passive_listener, v4_mapped_required_peer_matches_the_v4_client) {
    runner r;
    passive_listener l(r.ctx.get_executor());
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    const auto port = l.port();
    ferry::net::refused_connections refused;
    std::error_code accept_ec = asio::error::would_block;
    tcp::socket server(r.ctx);
    r.spawn([&]() -> asio::awaitable<void> {
        accept_ec = co_await l.accept(server, make_address("::ffff:127.0.0.1"), refused);
    });
    r.spawn([&]() -> asio::awaitable<void> {
        tcp::socket c(r.ctx);
        EXPECT_EQ(co_await connect_from(c, loopback, port), std::error_code{});
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(accept_ec, std::error_code{});
    EXPECT_EQ(refused.count, 0u);
}

// SECURITY: connection stealing: a connection from another address is closed, and the listener
// goes on waiting for the control client.
TEST(passive_listener, foreign_peer_is_refused_and_waiting_goes_on) {
    runner r;
    passive_listener l(r.ctx.get_executor());
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    const auto port = l.port();
    ferry::net::refused_connections refused;
    std::error_code accept_ec = asio::error::would_block;
    bool accepted = false;
    asio::ip::address peer_address;
    std::vector<std::string> events;
    tcp::socket server(r.ctx);

    r.spawn([&]() -> asio::awaitable<void> {
        accept_ec = co_await l.accept(server, loopback, refused);
        std::error_code pe;
        peer_address = server.remote_endpoint(pe).address();
        accepted = true;
        events.push_back("accepted");
    });
    r.spawn([&]() -> asio::awaitable<void> {
        // The thief connects from 127.0.0.2: the server closes its connection.
        tcp::socket thief(r.ctx);
        auto cec = co_await connect_from(thief, foreign, port);
        EXPECT_EQ(cec, std::error_code{});
        EXPECT_EQ(thief.local_endpoint().address(), foreign);
        char b;
        auto [ec, n] = co_await asio::async_read(thief, asio::buffer(&b, 1), as_tuple);
        EXPECT_EQ(n, 0u);
        EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
        events.push_back("thief closed");
        EXPECT_EQ(refused.count, 1u);
        EXPECT_EQ(refused.last, foreign);  // for the log: who tried
        EXPECT_FALSE(accepted);  // still waiting for the real client
        EXPECT_TRUE(l.is_open());

        // Now the control client's connection is taken.
        tcp::socket client(r.ctx);
        EXPECT_EQ(co_await connect_from(client, loopback, port), std::error_code{});
        events.push_back("client connected");
        co_await asio::async_write(client, asio::buffer(std::string_view("x")), as_tuple);
        char got = 0;
        auto [rec, rn] = co_await asio::async_read(client, asio::buffer(&got, 1), as_tuple);
        (void)rn;
        EXPECT_EQ(rec, asio::error::eof);  // the test closes the accepted socket below
    });
    r.spawn([&]() -> asio::awaitable<void> {
        // Once accepted, echo nothing and close, so that the client coroutine can end.
        asio::steady_timer t(r.ctx);
        while (!accepted) {
            t.expires_after(5ms);
            co_await t.async_wait(as_tuple);
        }
        char b = 0;
        auto [ec, n] = co_await asio::async_read(server, asio::buffer(&b, 1), as_tuple);
        EXPECT_EQ(ec, std::error_code{});
        EXPECT_EQ(n, 1u);
        EXPECT_EQ(b, 'x');
        server.shutdown(tcp::socket::shutdown_send);
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(accept_ec, std::error_code{});
    EXPECT_EQ(refused.count, 1u);
    EXPECT_EQ(peer_address, loopback);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0], "thief closed");
    // "accepted" and "client connected" may come in either order (both follow the handshake).
    EXPECT_TRUE((events[1] == "accepted" && events[2] == "client connected") ||
                (events[1] == "client connected" && events[2] == "accepted"));
}

TEST(passive_listener, several_thieves_are_all_refused) {
    runner r;
    passive_listener l(r.ctx.get_executor());
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    const auto port = l.port();
    ferry::net::refused_connections refused;
    std::error_code accept_ec = asio::error::would_block;
    tcp::socket server(r.ctx);
    r.spawn([&]() -> asio::awaitable<void> { accept_ec = co_await l.accept(server, loopback, refused); });
    r.spawn([&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            tcp::socket thief(r.ctx);
            EXPECT_EQ(co_await connect_from(thief, foreign, port), std::error_code{});
            char b;
            auto [ec, n] = co_await asio::async_read(thief, asio::buffer(&b, 1), as_tuple);
            EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
            EXPECT_EQ(n, 0u);
        }
        EXPECT_EQ(refused.count, 3u);
        tcp::socket client(r.ctx);
        EXPECT_EQ(co_await connect_from(client, loopback, port), std::error_code{});
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(accept_ec, std::error_code{});
    EXPECT_EQ(refused.count, 3u);
}

TEST(passive_listener, without_required_peer_anyone_is_accepted) {
    // PASSIVEDATACONN REDIRECT: the caller passes no required peer.
    runner r;
    passive_listener l(r.ctx.get_executor());
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    const auto port = l.port();
    ferry::net::refused_connections refused;
    std::error_code accept_ec = asio::error::would_block;
    tcp::socket server(r.ctx);
    r.spawn([&]() -> asio::awaitable<void> { accept_ec = co_await l.accept(server, std::nullopt, refused); });
    r.spawn([&]() -> asio::awaitable<void> {
        tcp::socket c(r.ctx);
        EXPECT_EQ(co_await connect_from(c, foreign, port), std::error_code{});
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(accept_ec, std::error_code{});
    EXPECT_EQ(refused.count, 0u);
    EXPECT_EQ(server.remote_endpoint().address(), foreign);
}

TEST(passive_listener, close_ends_a_pending_accept) {
    // The caller bounds the wait for the data connection by closing the listener.
    runner r;
    passive_listener l(r.ctx.get_executor());
    ASSERT_EQ(l.open(loopback, 0, 0), std::error_code{});
    ferry::net::refused_connections refused;
    std::error_code accept_ec;
    std::vector<std::string> events;
    tcp::socket server(r.ctx);
    r.spawn([&]() -> asio::awaitable<void> {
        accept_ec = co_await l.accept(server, loopback, refused);
        events.push_back("accept returned");
    });
    r.spawn([&]() -> asio::awaitable<void> {
        asio::steady_timer t(r.ctx, 50ms);
        co_await t.async_wait(as_tuple);
        events.push_back("closing");
        l.close();
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(accept_ec, asio::error::operation_aborted);
    EXPECT_EQ(events, (std::vector<std::string>{"closing", "accept returned"}));
    EXPECT_FALSE(server.is_open());
    EXPECT_FALSE(l.is_open());
}

// ---------------------------------------------------------------------------------------------
// connect_active()

TEST(connect_active, connects_from_the_given_local_address) {
    runner r;
    tcp::acceptor acc(r.ctx, tcp::endpoint(loopback, 0));
    const auto target = acc.local_endpoint();
    std::error_code ec = asio::error::would_block;
    tcp::socket s(r.ctx), peer(r.ctx);
    r.spawn([&]() -> asio::awaitable<void> { ec = co_await connect_active(s, loopback, false, target); });
    r.spawn([&]() -> asio::awaitable<void> {
        auto [aec] = co_await acc.async_accept(peer, as_tuple);
        EXPECT_EQ(aec, std::error_code{});
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(ec, std::error_code{});
    EXPECT_EQ(s.local_endpoint().address(), loopback);
    EXPECT_NE(s.local_endpoint().port(), 20);
    EXPECT_EQ(s.remote_endpoint(), target);
    EXPECT_EQ(peer.remote_endpoint(), s.local_endpoint());
}

TEST(connect_active, from_port_20_when_possible_else_ephemeral) {
    asio::io_context probe_ctx;
    // Can this process bind port 20 on loopback right now?
    bool can_bind_20 = false;
    {
        tcp::socket probe(probe_ctx);
        std::error_code ec;
        probe.open(tcp::v4(), ec);
        probe.set_option(tcp::socket::reuse_address(true), ec);
        probe.bind(tcp::endpoint(loopback, 20), ec);
        can_bind_20 = !ec;
    }
    runner r;
    tcp::acceptor acc(r.ctx, tcp::endpoint(loopback, 0));
    const auto target = acc.local_endpoint();
    std::error_code ec = asio::error::would_block;
    tcp::socket s(r.ctx), peer(r.ctx);
    r.spawn([&]() -> asio::awaitable<void> { ec = co_await connect_active(s, loopback, true, target); });
    r.spawn([&]() -> asio::awaitable<void> { co_await acc.async_accept(peer, as_tuple); });
    ASSERT_TRUE(r.run());
    ASSERT_EQ(ec, std::error_code{});
    if (can_bind_20)
        EXPECT_EQ(s.local_endpoint().port(), 20);
    else
        EXPECT_NE(s.local_endpoint().port(), 20);
    EXPECT_EQ(peer.remote_endpoint(), s.local_endpoint());
}

TEST(connect_active, refused_target_is_an_error_value) {
    // A port that was just free: nothing listens there.
    const std::uint16_t p = free_range(1);
    ASSERT_NE(p, 0);
    runner r;
    std::error_code ec;
    tcp::socket s(r.ctx);
    r.spawn([&]() -> asio::awaitable<void> {
        ec = co_await connect_active(s, loopback, false, tcp::endpoint(loopback, p));
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(ec, asio::error::connection_refused);
}

// ---------------------------------------------------------------------------------------------
// Behind a balancer (PROXYPROTOCOL, issue 15): 127.0.0.1 is the balancer, 127.0.0.2 anyone else.

namespace {

const std::vector<std::string> balancer_subnet{"127.0.0.1/32"};

struct proxied_accept {
    runner r;
    passive_listener l{r.ctx.get_executor()};
    ferry::net::refused_connections refused;
    std::error_code accept_ec = asio::error::would_block;
    std::string received;
    tcp::socket server{r.ctx};

    proxied_accept() {
        l.expect_proxy_from(&balancer_subnet);
        EXPECT_EQ(l.open(loopback, 0, 0), std::error_code{});
        // The control client is 198.51.100.9; its data must come through the balancer.
        r.spawn([this]() -> asio::awaitable<void> {
            accept_ec = co_await l.accept(server, make_address("198.51.100.9"), refused);
            if (accept_ec) co_return;
            std::string buf(5, '\0');
            auto [ec, n] = co_await asio::async_read(server, asio::buffer(buf), as_tuple);
            received = buf.substr(0, n);
        });
    }
    // Connects from `from`, sends `first`; returns whether the listener then closed it.
    asio::awaitable<bool> closed_after(const asio::ip::address& from, std::string first) {
        tcp::socket c(r.ctx);
        EXPECT_EQ(co_await connect_from(c, from, l.port()), std::error_code{});
        co_await asio::async_write(c, asio::buffer(first), as_tuple);
        char b;
        auto [ec, n] = co_await asio::async_read(c, asio::buffer(&b, 1), as_tuple);
        co_return n == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset);
    }
};

std::string v1_from(const std::string& client) { return "PROXY TCP4 " + client + " 203.0.113.1 4444 50000\r\n"; }

}  // namespace

TEST(passive_listener_behind_balancer, the_header_names_the_client_and_its_bytes_follow_intact) {
    proxied_accept t;
    t.r.spawn([&]() -> asio::awaitable<void> {
        tcp::socket c(t.r.ctx);
        EXPECT_EQ(co_await connect_from(c, loopback, t.l.port()), std::error_code{});
        // The header and the first data bytes in one segment, as HAProxy often sends them.
        co_await asio::async_write(c, asio::buffer(v1_from("198.51.100.9") + "hello"), as_tuple);
    });
    ASSERT_TRUE(t.r.run());
    EXPECT_EQ(t.accept_ec, std::error_code{});
    EXPECT_EQ(t.refused.count, 0u);
    EXPECT_EQ(t.received, "hello");
}

TEST(passive_listener_behind_balancer, a_header_in_pieces_is_read_whole) {
    proxied_accept t;
    t.r.spawn([&]() -> asio::awaitable<void> {
        tcp::socket c(t.r.ctx);
        EXPECT_EQ(co_await connect_from(c, loopback, t.l.port()), std::error_code{});
        const std::string all = v1_from("198.51.100.9") + "hello";
        asio::steady_timer pause(t.r.ctx);
        for (std::size_t at = 0; at < all.size(); at += 7) {
            co_await asio::async_write(c, asio::buffer(all.substr(at, 7)), as_tuple);
            pause.expires_after(2ms);  // separate segments, so the reader sees each piece alone
            co_await pause.async_wait(as_tuple);
        }
    });
    ASSERT_TRUE(t.r.run());
    EXPECT_EQ(t.accept_ec, std::error_code{});
    EXPECT_EQ(t.received, "hello");
}

// SECURITY: the checks that stop connection stealing hold behind the balancer too.
TEST(passive_listener_behind_balancer, another_client_another_host_or_no_header_is_refused) {
    proxied_accept t;
    t.r.spawn([&]() -> asio::awaitable<void> {
        // Through the balancer, but for another client: the log names that client.
        EXPECT_TRUE(co_await t.closed_after(loopback, v1_from("198.51.100.10") + "x"));
        EXPECT_EQ(t.refused.last, make_address("198.51.100.10"));
        // Straight from another host, naming the right client.
        EXPECT_TRUE(co_await t.closed_after(foreign, v1_from("198.51.100.9") + "x"));
        // From the balancer, without a header.
        EXPECT_TRUE(co_await t.closed_after(loopback, "hello"));
        EXPECT_EQ(t.refused.count, 3u);
        EXPECT_TRUE(t.l.is_open());  // still waiting for the client's own connection
        tcp::socket c(t.r.ctx);
        EXPECT_EQ(co_await connect_from(c, loopback, t.l.port()), std::error_code{});
        co_await asio::async_write(c, asio::buffer(v1_from("198.51.100.9") + "hello"), as_tuple);
    });
    ASSERT_TRUE(t.r.run());
    EXPECT_EQ(t.accept_ec, std::error_code{});
    EXPECT_EQ(t.received, "hello");
}

TEST(receive_proxy_header, a_balancer_that_sends_half_a_header_is_timed_out) {
    runner r;
    tcp::acceptor acc(r.ctx, tcp::endpoint(loopback, 0));
    tcp::socket server(r.ctx), client(r.ctx);
    std::error_code ec;
    std::string why;
    const auto start = std::chrono::steady_clock::now();
    r.spawn([&]() -> asio::awaitable<void> {
        co_await acc.async_accept(server, as_tuple);
        ferry::net::proxied_peer p;
        ec = co_await ferry::net::receive_proxy_header(server, 200ms, p, why);
    });
    r.spawn([&]() -> asio::awaitable<void> {
        co_await client.async_connect(acc.local_endpoint(), as_tuple);
        co_await asio::async_write(client, asio::buffer(std::string_view("PROXY TCP4 198.51")), as_tuple);
    });
    ASSERT_TRUE(r.run());
    EXPECT_EQ(ec, asio::error::timed_out);
    EXPECT_NE(why.find("within"), std::string::npos) << why;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}
