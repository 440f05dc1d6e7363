#pragma once
// Whether the peer's TCP took everything we sent: the proof of life that an upload ended by a
// bare FIN needs before it is committed. A client that was killed has closed its socket, so
// its kernel answers our reply with a RST instead of an ACK.
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>

namespace ferry::net {

enum class delivery { acknowledged, peer_gone, timed_out };

// Waits until every byte written to sock has been acknowledged by the peer (delivered),
// the connection is reset or closed (peer_gone), or `limit` passes. Polls the socket's send
// queue with a short, growing interval: the kernel has no event for "all acknowledged".
asio::awaitable<delivery> wait_delivered(asio::ip::tcp::socket& sock, std::chrono::steady_clock::duration limit);

}  // namespace ferry::net
