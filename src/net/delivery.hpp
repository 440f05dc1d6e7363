#pragma once
// Whether a peer took in what we sent, and is still there: the proof of life that an upload
// ended by a bare FIN needs before it is committed over an older file. A client that was killed
// closed its socket; its kernel answers our reply with a RST, whether the reply arrived just
// before the close (unread data turns a close into a RST) or after it.
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <optional>

namespace ferry::net {

enum class delivery {
    acknowledged,  // the peer's TCP took every byte, and the peer did not reset the connection
    peer_gone,     // the connection was reset (or closed on our side) first
    timed_out,     // neither within the limit
};

// A point in a connection's two byte streams: what we had written, what we had received.
struct stream_mark {
    std::uint64_t sent_end = 0;  // acknowledged bytes once all we wrote is acknowledged
    std::uint64_t received = 0;  // bytes received from the peer so far
};

// Where the connection stands now; empty if it is gone. Take it right after the write that
// must be delivered.
std::optional<stream_mark> mark_now(asio::ip::tcp::socket& sock);

// Waits until the peer has acknowledged every byte up to mark.sent_end, then for `settle` (plus
// two round trips) more
// unless the peer speaks (sends a byte) or closes cleanly (FIN) first: a RST in that time means
// it died with our bytes unread (peer_gone). Acknowledged bytes count, not an empty send queue: a
// later write of ours can meet a socket the peer closed after reading, and its ACK came first.
// Polls with a short, growing interval: the kernel has no event for "acknowledged".
asio::awaitable<delivery> wait_delivered(asio::ip::tcp::socket& sock, std::optional<stream_mark> mark,
                                         std::chrono::steady_clock::duration limit,
                                         std::chrono::steady_clock::duration settle);

}  // namespace ferry::net
