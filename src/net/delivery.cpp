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

namespace ferry::net {

asio::awaitable<delivery> wait_delivered(asio::ip::tcp::socket& sock, std::chrono::steady_clock::duration limit) {
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    asio::steady_timer timer(sock.get_executor());
    std::chrono::microseconds step = 100us;  // a loopback round trip is tens of microseconds
    for (;;) {
        const int fd = sock.native_handle();
        tcp_info info{};
        socklen_t len = sizeof info;
        int unsent = 0;
        if (!sock.is_open() || ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
            ::ioctl(fd, SIOCOUTQ, &unsent) != 0)
            co_return delivery::peer_gone;
        // A RST (our bytes reached a closed socket) empties the queue too: the state tells them apart.
        if (info.tcpi_state == TCP_CLOSE) co_return delivery::peer_gone;
        if (unsent == 0) co_return delivery::acknowledged;
        if (std::chrono::steady_clock::now() >= deadline) co_return delivery::timed_out;
        timer.expires_after(step);
        auto [ec] = co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) co_return delivery::timed_out;
        // A delayed ACK can take 40 ms or more; later polls need not be as frequent.
        step = std::min<std::chrono::microseconds>(step * 2, 20ms);
    }
}

}  // namespace ferry::net
