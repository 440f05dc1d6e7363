#pragma once
// METRICS address port: the Prometheus endpoint. A small HTTP/1.1 server on the accept thread's
// io_context (never on an event thread): one request per connection, answered from
// server_shared::counters and closed. It has no authentication: bind it to loopback or a
// management address. Bound at start; a SIGHUP reload leaves it as it is.
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "config/settings.hpp"
#include "server/server_context.hpp"

namespace ferry::server {

class metrics_endpoint : public std::enable_shared_from_this<metrics_endpoint> {
public:
    // SECURITY: resource exhaustion: a flood of scrapes (or idle connections) holds at most this
    // many sockets, each for at most connection_deadline.
    static constexpr std::size_t max_connections = 16;
    static constexpr std::chrono::seconds connection_deadline{5};

    // Binds and listens on `at`; on failure null, with an error naming METRICS and the address.
    static std::shared_ptr<metrics_endpoint> open(asio::io_context& io, const config::listen_address& at,
                                                  std::shared_ptr<server_shared> shared,
                                                  std::shared_ptr<spdlog::logger> log, std::string& error);
    metrics_endpoint(asio::io_context& io, std::shared_ptr<server_shared> shared, std::shared_ptr<spdlog::logger> log)
        : acceptor_(io), shared_(std::move(shared)), log_(std::move(log)) {}

    // Starts accepting (on the io_context given to open()).
    void start();
    // Stops accepting; a request being answered finishes (or meets its deadline).
    void close();
    asio::ip::tcp::endpoint local_endpoint() const;
    // The exposition now, with the gauges read at scrape time filled in.
    std::string render() const;

private:
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(asio::ip::tcp::socket sock);

    asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<server_shared> shared_;
    std::shared_ptr<spdlog::logger> log_;
    std::size_t open_ = 0;  // connections being served; only the io_context's thread touches it
};

}  // namespace ferry::server
