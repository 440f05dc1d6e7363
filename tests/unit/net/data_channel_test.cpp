// net::data_channel on real loopback connections, in clear and under TLS: the bytes that arrive
// are the bytes that were sent (TYPE A converted both ways), the counts and the watchdog hook see
// every piece, a producer's or consumer's error ends the transfer with that error, sendfile
// notices a file that ends early, and both ends close cleanly.
#include "net/data_channel.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

using namespace std::chrono_literals;
using asio::ip::tcp;
using ferry::net::data_channel;
using ferry::net::piece;

namespace {

struct connected_pair {
    asio::io_context ctx;
    std::unique_ptr<data_channel> sender, receiver;
    connected_pair() {
        tcp::socket a(ctx), b(ctx);
        tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        b.connect(acc.local_endpoint());
        acc.accept(a);
        a.non_blocking(true);
        b.non_blocking(true);
        sender = std::make_unique<data_channel>(std::move(a));
        receiver = std::make_unique<data_channel>(std::move(b));
    }
    // Runs both coroutines to their end (bounded).
    void run(asio::awaitable<void> one, asio::awaitable<void> two) {
        asio::co_spawn(ctx, std::move(one), asio::detached);
        asio::co_spawn(ctx, std::move(two), asio::detached);
        ctx.run_for(20s);
        ASSERT_TRUE(ctx.stopped()) << "the transfer did not end";
    }
};

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(gen());
    return s;
}

// A producer that hands out `data` in pieces of at most `step` bytes (to cross buffer edges).
auto producer(const std::string& data, std::size_t& at, std::size_t step = SIZE_MAX) {
    return [&data, &at, step](char* buf, std::size_t capacity) -> asio::awaitable<piece> {
        const std::size_t n = std::min({capacity, step, data.size() - at});
        data.copy(buf, n, at);
        at += n;
        co_return piece{n, {}};
    };
}

auto collector(std::string& out) {
    return [&out](const char* p, std::size_t n) -> asio::awaitable<std::error_code> {
        out.append(p, n);
        co_return std::error_code{};
    };
}

// Sends data from one end and collects it at the other; both ends close as a download does.
std::string transfer(connected_pair& p, const std::string& data, bool ascii_send, bool ascii_receive,
                     std::size_t step = SIZE_MAX) {
    std::string got;
    std::size_t at = 0;
    std::error_code sent, received;
    p.sender->set_ascii(ascii_send);
    p.receiver->set_ascii(ascii_receive);
    p.run(
        [&]() -> asio::awaitable<void> {
            sent = co_await p.sender->send_all(producer(data, at, step));
            co_await p.sender->finish_sending();
            co_await p.sender->drain_and_close();
        }(),
        [&]() -> asio::awaitable<void> {
            received = co_await p.receiver->receive_all(collector(got));
            co_await p.receiver->finish_download(5s);
        }());
    EXPECT_FALSE(sent) << sent.message();
    EXPECT_FALSE(received) << received.message();
    return got;
}

}  // namespace

TEST(data_channel, binary_bytes_arrive_unchanged_and_are_counted_on_both_ends) {
    connected_pair p;
    const std::string data = random_bytes(3 * data_channel::buffer_size + 12345, 1);
    std::uint64_t seen_sent = 0, seen_received = 0;
    p.sender->on_moved([&](std::size_t n) { seen_sent += n; });
    p.receiver->on_moved([&](std::size_t n) { seen_received += n; });
    EXPECT_EQ(transfer(p, data, false, false), data);
    EXPECT_EQ(p.sender->moved(), data.size());
    EXPECT_EQ(p.receiver->moved(), data.size());
    EXPECT_EQ(seen_sent, data.size());
    EXPECT_EQ(seen_received, data.size());
}

TEST(data_channel, type_a_sends_crlf_on_the_wire_and_gives_back_lf) {
    const std::string text = "one\ntwo\n\nthree\r\nfour";  // a CR already there stays
    {
        connected_pair p;
        EXPECT_EQ(transfer(p, text, true, false), "one\r\ntwo\r\n\r\nthree\r\r\nfour");  // the wire
    }
    {
        connected_pair p;
        EXPECT_EQ(transfer(p, "one\r\ntwo\r\n", false, true), "one\ntwo\n");
    }
    // Round trip of a large text in small pieces: CRLF pairs split across pieces and buffers.
    std::string big;
    for (int i = 0; big.size() < 2 * data_channel::buffer_size; ++i) big += "line " + std::to_string(i) + "\n";
    connected_pair p;
    EXPECT_EQ(transfer(p, big, true, true, 4097), big);
    EXPECT_EQ(p.sender->moved(), big.size() + std::count(big.begin(), big.end(), '\n'));
}

TEST(data_channel, a_lone_cr_at_the_end_is_kept) {
    connected_pair p;
    EXPECT_EQ(transfer(p, "a\r\nb\r", false, true), "a\nb\r");
}

TEST(data_channel, a_producer_error_ends_the_sending_with_it) {
    connected_pair p;
    int calls = 0;
    std::error_code sent;
    std::string got;
    auto failing = [&calls](char* buf, std::size_t) -> asio::awaitable<piece> {
        if (++calls == 3) co_return piece{0, std::make_error_code(std::errc::io_error)};
        buf[0] = 'x';
        co_return piece{1, {}};
    };
    p.run(
        [&]() -> asio::awaitable<void> {
            sent = co_await p.sender->send_all(failing);
            p.sender->close();
        }(),
        [&]() -> asio::awaitable<void> {
            co_await p.receiver->receive_all(collector(got));
            p.receiver->close();
        }());
    EXPECT_EQ(sent, std::errc::io_error);
    EXPECT_EQ(got, "xx");
}

TEST(data_channel, a_consumer_error_ends_the_receiving_with_it) {
    connected_pair p;
    const std::string data = random_bytes(4 * data_channel::buffer_size, 2);
    std::size_t at = 0;
    std::error_code received;
    auto full_disk = [](const char*, std::size_t) -> asio::awaitable<std::error_code> {
        co_return std::make_error_code(std::errc::no_space_on_device);
    };
    p.run(
        [&]() -> asio::awaitable<void> {
            co_await p.sender->send_all(producer(data, at));
            p.sender->close();
        }(),
        [&]() -> asio::awaitable<void> {
            received = co_await p.receiver->receive_all(full_disk);
            p.receiver->close();
        }());
    EXPECT_EQ(received, std::errc::no_space_on_device);
}

TEST(data_channel, abort_ends_a_receive_that_waits) {
    connected_pair p;
    std::string got;
    std::error_code received;
    asio::steady_timer later(p.ctx, 50ms);
    p.run(
        [&]() -> asio::awaitable<void> {
            received = co_await p.receiver->receive_all(collector(got));
        }(),
        [&]() -> asio::awaitable<void> {
            co_await later.async_wait(asio::use_awaitable);
            p.receiver->abort();  // as ABOR or DATACTTIME do
            co_await later.async_wait(asio::use_awaitable);
            p.sender->close();
            p.receiver->close();
        }());
    EXPECT_TRUE(received);
    EXPECT_NE(received, asio::error::eof);
}

// ABOR while a piece is being written to the disk and no read is pending (the next piece has
// already arrived): the receive must still end at once. It used to go on reading, then wait for
// data the client (waiting for the ABOR reply) never sends, until DATACTTIME (seen in CI).
TEST(data_channel, abort_while_a_piece_is_consumed_ends_the_receive_at_once) {
    connected_pair p;
    const std::string data = random_bytes(3 * data_channel::buffer_size, 7);
    std::size_t at = 0;
    std::string got;
    std::error_code received;
    asio::steady_timer hold(p.ctx, 60s);  // the client keeps the connection open, as after ABOR
    bool aborted = false;
    std::size_t kept_after_abort = 0;
    auto slow_disk = [&](const char* b, std::size_t n) -> asio::awaitable<std::error_code> {
        got.append(b, n);
        if (aborted) kept_after_abort += n;
        if (!aborted) {
            asio::steady_timer disk(p.ctx, 100ms);  // the read beside this write completes meanwhile
            co_await disk.async_wait(asio::use_awaitable);
            aborted = true;
            p.receiver->abort();
        }
        co_return std::error_code{};
    };
    const auto start = std::chrono::steady_clock::now();
    p.run(
        [&]() -> asio::awaitable<void> {
            co_await p.sender->send_all(producer(data, at));
            std::error_code ig;
            co_await hold.async_wait(asio::redirect_error(asio::use_awaitable, ig));
            p.sender->close();
        }(),
        [&]() -> asio::awaitable<void> {
            received = co_await p.receiver->receive_all(slow_disk);
            hold.cancel();
            p.receiver->close();
        }());
    EXPECT_EQ(received, asio::error::operation_aborted);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    // The piece that arrived during the disk write is kept too, as an aborted upload's partial.
    EXPECT_GT(kept_after_abort, 0u);
    EXPECT_EQ(got, data.substr(0, got.size()));
}

TEST(data_channel, send_file_sends_the_file_and_notices_one_that_ends_early) {
    const auto dir = std::filesystem::temp_directory_path() / ("ferry-dc-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string data = random_bytes(10 * 1024 * 1024 + 7, 3);
    std::ofstream(dir / "f", std::ios::binary) << data;
    const int fd = ::open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto inline_run = [](const data_channel::sendfile_trip& trip) -> asio::awaitable<piece> { co_return trip(); };
    for (const std::uint64_t extra : {0ull, 1000ull}) {  // 1000: the file is shorter than announced
        connected_pair p;
        std::string got;
        std::error_code sent;
        bool shrank = false;
        p.run(
            [&]() -> asio::awaitable<void> {
                sent = co_await p.sender->send_file(fd, 5, data.size() - 5 + extra, inline_run, shrank);
                co_await p.sender->finish_sending();
                co_await p.sender->drain_and_close();
            }(),
            [&]() -> asio::awaitable<void> {
                co_await p.receiver->receive_all(collector(got));
                p.receiver->close();
            }());
        EXPECT_EQ(got, data.substr(5)) << extra;
        if (extra == 0) {
            EXPECT_FALSE(sent) << sent.message();
            EXPECT_FALSE(shrank);
        } else {
            EXPECT_EQ(sent, std::errc::io_error);
            EXPECT_TRUE(shrank);
        }
    }
    ::close(fd);
    std::filesystem::remove_all(dir);
}

TEST(data_channel, under_tls_both_ends_protect_move_and_close_cleanly) {
    const auto dir = std::filesystem::temp_directory_path() / ("ferry-dc-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string pem = (dir / "server.pem").string();
    std::string error;
    ASSERT_TRUE(ferry::tls::generate_self_signed(pem, "localhost", "DNS:localhost,IP:127.0.0.1", 1, error)) << error;
    ferry::tls::server_options so;
    so.keyring = pem;
    auto server_ctx = ferry::tls::context::make_server(so, error);
    ASSERT_TRUE(server_ctx) << error;
    ferry::tls::client_options co;
    co.ca_file = pem;
    auto client_ctx = ferry::tls::client_context::make(co, error);
    ASSERT_TRUE(client_ctx) << error;

    // An upload: the client sends, the server receives (as STOR), then each side's end.
    connected_pair p;
    const std::string data = random_bytes(data_channel::buffer_size * 2 + 99, 4);
    std::string got;
    std::size_t at = 0;
    std::error_code client_hs, server_hs, sent, received;
    bool protected_data = false;
    p.run(
        [&]() -> asio::awaitable<void> {
            client_hs = co_await p.sender->protect_as_client(*client_ctx, "localhost", nullptr);
            if (client_hs) co_return;
            protected_data = p.sender->secure();
            sent = co_await p.sender->send_all(producer(data, at));
            co_await p.sender->finish_upload(5s);
        }(),
        [&]() -> asio::awaitable<void> {
            server_hs = co_await p.receiver->protect_as_server(*server_ctx, 0);
            if (server_hs) co_return;
            received = co_await p.receiver->receive_all(collector(got));
            co_await p.receiver->finish_sending();
            co_await p.receiver->drain_and_close();
        }());
    EXPECT_FALSE(client_hs) << p.sender->tls_error();
    EXPECT_FALSE(server_hs) << p.receiver->tls_error();
    EXPECT_TRUE(protected_data);
    EXPECT_FALSE(sent) << sent.message();
    EXPECT_FALSE(received) << received.message();
    EXPECT_EQ(got, data);
    EXPECT_FALSE(p.receiver->stream().truncated());  // the client's close_notify marked the end
    std::filesystem::remove_all(dir);
}
