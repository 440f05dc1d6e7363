#pragma once
// What the METRICS endpoint reports: counters and gauges of the whole server (every event thread,
// every configuration generation), bumped where the event happens with relaxed atomics, so that
// counting costs one uncontended add and nothing is locked. format_metrics() renders them in the
// Prometheus text exposition format (version 0.0.4).
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry::server {

enum class transfer_direction { download, upload, listing };
enum class data_protection { clear, tls };
enum class tls_link { control, data };
// Why a data connection (or the command asking for one) was refused.
enum class data_refusal {
    bounce,          // PORT/EPRT naming another host (PORTCOMMANDIPADDR)
    stealing,        // a passive connection from another address (PASSIVEDATACONN)
    reuse_required,  // PROT P data without resuming the control session (SECURE_SESSION_REUSE)
    policy,          // SECURE_DATACONN (PROT C refused, PROT P needed, ...)
    tls_failed,      // the data connection's TLS handshake failed
    no_port,         // no passive port free, or the user's share used
    timeout,         // the client never connected (DATACTTIME)
};
enum class login_refusal { password, user_options, certificate, lockout, limits, policy };

inline constexpr std::size_t count_of_directions = 3;
inline constexpr std::size_t count_of_protections = 2;
inline constexpr std::size_t count_of_data_refusals = 7;
inline constexpr std::size_t count_of_login_refusals = 6;

struct metrics {
    using counter = std::atomic<std::uint64_t>;
    using gauge = std::atomic<std::int64_t>;

    gauge sessions_open{0};
    counter sessions_total{0};
    counter logins_ok{0};
    std::array<counter, count_of_login_refusals> logins_refused{};
    // [direction][protection]
    std::array<std::array<counter, count_of_protections>, count_of_directions> transfers{};
    std::array<std::array<counter, count_of_protections>, count_of_directions> transfer_bytes{};
    counter transfers_incomplete{0};
    // [link][resumed]
    std::array<std::array<counter, 2>, 2> tls_handshakes{};
    counter tls_handshakes_failed{0};
    std::array<counter, count_of_data_refusals> data_refused{};
    // Set by the endpoint from session_limits::passive_in_use() at each scrape: never counted here.
    gauge passive_ports_in_use{0};
    gauge throttled_transfers{0};  // transfers running under DOWNLOADRATE/UPLOADRATE or a user's rate
    counter ccc_total{0};
    // File digests answered (HASH, XSHA*, XMD5, XCRC): [0] computed, [1] from the digest cache.
    std::array<counter, 2> file_digests{};
    // Connections refused before a session starts: [0] the descriptor reserve, [1] LOGINATTEMPTS,
    // [2] MAXSESSIONS / MAXSESSIONSPERHOST, [3] PROXYPROTOCOL (not a balancer, or no valid header).
    std::array<counter, 4> connections_refused{};
    // process_start_time_seconds: made with the server_shared at start, milliseconds after exec.
    std::int64_t start_time_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count();

    static void add(counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
    static void add(gauge& g, std::int64_t n) { g.fetch_add(n, std::memory_order_relaxed); }
};

const char* name_of(transfer_direction d);
const char* name_of(data_protection p);
const char* name_of(data_refusal r);
const char* name_of(login_refusal r);

// The whole exposition: HELP and TYPE lines, then one sample a line, ending in a newline.
std::string format_metrics(const metrics& m);

}  // namespace ferry::server
