#pragma once
// Listeners and worker threads. One io_context per worker thread: a session runs entirely on
// the thread that accepted it, so sessions need no locks and OpenSSL objects never cross threads.
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/metrics_endpoint.hpp"
#include "server/server_context.hpp"
#include "server/work_pool.hpp"

namespace ferry::server {

class server {
public:
    explicit server(std::shared_ptr<const server_context> ctx, unsigned threads = 0);
    ~server();
    // Binds every listener (and METRICS' endpoint); a port that cannot be bound is an error
    // naming it. Starts no thread.
    bool start(std::string& error);
    // Starts the worker threads and runs until stop() (or SIGINT/SIGTERM when handle_signals).
    void run(bool handle_signals);
    void stop();
    // SIGHUP: reads the configuration file again (statements, USERS, CERTMAP, TLS files) for new
    // sessions; running sessions keep the configuration they started with. A file that no longer
    // loads changes nothing (logged). Without a configuration file (ferryd serve): reload_tls().
    void reload();
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
    // SIGTERM/SIGINT: closes the listeners, then stops once no transfer runs or SHUTDOWNGRACE is
    // over; a second signal stops at once. Returns whether it waits (another signal may come).
    bool shut_down(int sig);
    asio::awaitable<void> finish_transfers(std::chrono::steady_clock::time_point deadline);
    // Once a second without transfers follows some, hands the spare transfer buffers and the
    // heap's free pages back to the system (malloc_trim): glibc keeps what a busy spell freed in
    // its arenas, so without this RSS stays at the busiest moment's height after the load is gone.
    asio::awaitable<void> give_back_free_heap();
    asio::io_context& next_worker();
    // Behind a balancer: reads the PROXY header (on the worker), then admit().
    asio::awaitable<void> admit_relayed(asio::ip::tcp::socket sock, bool implicit_tls,
                                        std::shared_ptr<const server_context> ctx, asio::ip::tcp::endpoint balancer);
    // The limits a new connection must pass (descriptors, LOGINATTEMPTS, MAXSESSIONS*), counted
    // for the client, then its session on the socket's thread. balancer: the one that relayed it.
    void admit(asio::ip::tcp::socket sock, bool implicit_tls, const std::shared_ptr<const server_context>& ctx,
               const asio::ip::tcp::endpoint& client, std::optional<asio::ip::tcp::endpoint> balancer);
    // Refuses a connection at once: a 421 line on explicit ports (implicit TLS clients could not
    // read it: they only get the close), then close. Logged at most once per kind per 10 s.
    void refuse(asio::ip::tcp::socket& sock, const server_context& ctx, bool implicit_tls, const std::string& kind,
                const std::string& why, const std::string& peer);
    // Closes a connection that is not the balancer's or brought no valid PROXY header, without
    // a reply (it may not even speak FTP). Logged like refuse(), kind by kind.
    void refuse_silently(asio::ip::tcp::socket& sock, const server_context& ctx, const std::string& kind,
                         const std::string& why);
    // Out of descriptors (EMFILE): frees the spare descriptor to accept and refuse one waiting
    // connection, then takes the spare again.
    void refuse_without_descriptors(listener& l);

    std::shared_ptr<const server_context> ctx_;
    std::vector<std::unique_ptr<asio::io_context>> workers_;
    // Declared after workers_, so destroyed before them: an accept still pending when ferryd
    // stops holds the new socket, which belongs to a worker's io_context; destroying
    // accept_ctx_ destroys that socket, so the worker's socket service must still exist (UBSan
    // found the member call on the already destroyed service at every shutdown).
    asio::io_context accept_ctx_;
    std::vector<std::unique_ptr<listener>> listeners_;
    // METRICS, on accept_ctx_ (declared after it: its acceptor belongs to it). Fixed at start: a
    // reload that changes METRICS is reported and changes nothing until a restart.
    std::shared_ptr<metrics_endpoint> metrics_;
    std::string metrics_at_start_;  // "address port" or "(off)", for the reload's warning
    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> next_id_{1};
    std::size_t next_worker_ = 0;
    std::atomic<bool> stopping_{false};  // SIGTERM seen: waiting for running transfers (read by workers)
    // Descriptors: new connections are refused once a new one's number reaches fd_limit_ -
    // fd_reserve_ (the kernel hands out the lowest free number, so that many are open), keeping
    // the reserve for running sessions' data connections, files and listeners.
    long fd_limit_ = 0;
    long fd_reserve_ = 0;
    int spare_fd_ = -1;
    // Declared after workers_: destroyed (joined) first, while the io_contexts their results
    // are posted to still exist.
    std::unique_ptr<work_pool> hash_pool_, disk_pool_, bulk_pool_, digest_pool_;
    std::optional<worker_pools> pools_;  // the four above, as sessions see them
};

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limit in force.
long raise_descriptor_limit();

}  // namespace ferry::server
