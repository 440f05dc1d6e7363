#pragma once
// Listeners and worker threads. One io_context per worker thread: a session runs entirely on
// the thread that accepted it, so sessions need no locks and OpenSSL objects never cross threads.
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/server_context.hpp"

namespace ferry::server {

class server {
public:
    explicit server(std::shared_ptr<const server_context> ctx, unsigned threads = 0);
    ~server();
    // Binds every listener; a port that cannot be bound is an error naming it.
    bool start(std::string& error);
    // Runs until stop() (or SIGINT/SIGTERM when handle_signals).
    void run(bool handle_signals);
    void stop();
    // Re-reads KEYRING/CAFILE (SIGHUP): new sessions get the renewed certificate, running ones
    // keep theirs.
    void reload_tls();
    // Actual bound endpoints (port 0 in the config becomes the kernel's choice).
    std::vector<asio::ip::tcp::endpoint> explicit_endpoints() const;
    std::vector<asio::ip::tcp::endpoint> implicit_endpoints() const;

private:
    struct listener {
        asio::ip::tcp::acceptor acceptor;
        bool implicit_tls;
    };
    asio::awaitable<void> accept_loop(listener& l);
    asio::io_context& next_worker();

    std::shared_ptr<const server_context> ctx_;
    asio::io_context accept_ctx_;
    std::vector<std::unique_ptr<asio::io_context>> workers_;
    std::vector<std::unique_ptr<listener>> listeners_;
    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> next_id_{1};
    std::size_t next_worker_ = 0;
};

}  // namespace ferry::server
