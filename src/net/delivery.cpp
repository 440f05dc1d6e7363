#include "net/delivery.hpp"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstddef>

namespace ferry::net {

namespace {

// The kernel's struct tcp_info continues past glibc's copy (which ends at tcpi_total_retrans);
// fields are only ever appended, so this prefix is stable. linux/tcp.h cannot be included
// beside netinet/tcp.h, which Asio needs.
struct tcp_info_bytes {
    tcp_info base;
    std::uint64_t pacing_rate;
    std::uint64_t max_pacing_rate;
    std::uint64_t bytes_acked;     // RFC 4898 tcpEStatsAppHCThruOctetsAcked (Linux 4.1)
    std::uint64_t bytes_received;  // RFC 4898 tcpEStatsAppHCThruOctetsReceived (Linux 4.1)
};
static_assert(offsetof(tcp_info_bytes, bytes_acked) == 120 && offsetof(tcp_info_bytes, bytes_received) == 128,
              "struct tcp_info layout");

struct progress {
    bool ok = false;
    int state = 0;
    std::chrono::microseconds rtt{0};  // smoothed round-trip time
    std::uint64_t acked = 0;
    std::uint64_t received = 0;
};

progress read_progress(asio::ip::tcp::socket& sock) {
    progress p;
    tcp_info_bytes info{};
    socklen_t len = sizeof info;
    if (!sock.is_open() || ::getsockopt(sock.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        len < sizeof info)
        return p;
    p.ok = true;
    p.state = info.base.tcpi_state;
    p.rtt = std::chrono::microseconds(info.base.tcpi_rtt);
    p.acked = info.bytes_acked;
    p.received = info.bytes_received;
    return p;
}

}  // namespace

std::optional<stream_mark> mark_now(asio::ip::tcp::socket& sock) {
    const progress p = read_progress(sock);
    int outstanding = 0;  // written but not yet acknowledged
    if (!p.ok || p.state == TCP_CLOSE || ::ioctl(sock.native_handle(), SIOCOUTQ, &outstanding) != 0)
        return std::nullopt;
    return stream_mark{p.acked + static_cast<std::uint64_t>(outstanding), p.received};
}

asio::awaitable<delivery> wait_delivered(asio::ip::tcp::socket& sock, std::optional<stream_mark> mark,
                                         std::chrono::steady_clock::duration limit,
                                         std::chrono::steady_clock::duration settle) {
    using namespace std::chrono_literals;
    using clock = std::chrono::steady_clock;
    if (!mark) co_return delivery::peer_gone;
    const auto deadline = clock::now() + limit;
    std::optional<clock::time_point> settled;  // when the acknowledgement alone suffices
    asio::steady_timer timer(sock.get_executor());
    std::chrono::microseconds step = 100us;  // a loopback round trip is tens of microseconds
    for (;;) {
        const progress p = read_progress(sock);
        // A RST: our bytes reached a closed socket, or arrived unread at one that then closed.
        if (!p.ok || p.state == TCP_CLOSE) co_return delivery::peer_gone;
        if (p.acked >= mark->sent_end) {
            // A peer that speaks or closes cleanly (FIN: it read everything) is alive; one that
            // is dying closes its sockets within the settle time.
            if (p.received > mark->received || p.state == TCP_CLOSE_WAIT) co_return delivery::acknowledged;
            // Two round trips: the RST of a peer that closed just after acknowledging needs one.
            if (!settled) settled = clock::now() + settle + 2 * p.rtt;
            if (clock::now() >= *settled) co_return delivery::acknowledged;
        } else if (clock::now() >= deadline) {
            co_return delivery::timed_out;
        }
        timer.expires_after(step);
        auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) co_return delivery::timed_out;
        // A delayed ACK can take 40 ms or more; later polls need not be as frequent.
        step = std::min<std::chrono::microseconds>(step * 2, 10ms);
    }
}

}  // namespace ferry::net
