#pragma once
// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load
// balancer sends first on each connection it relays, naming the client it relays for. Parsed
// strictly and within a fixed bound, from bytes as they arrive: a prefix that can still become a
// header asks for more; anything else is refused at its first wrong byte, so a client that
// talks FTP or TLS at once is told apart without waiting.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::proto {

struct proxy_endpoint {
    std::string address;  // canonical text (inet_ntop): "203.0.113.7", "2001:db8::1"
    std::uint16_t port = 0;
};

struct proxy_header {
    enum class kind {
        relayed,  // PROXY TCP4/TCP6 (v1) or PROXY with AF_INET/AF_INET6 over STREAM (v2)
        local,    // v2 LOCAL, v1 UNKNOWN, v2 UNSPEC: the balancer's own connection (health checks)
    };
    kind what = kind::local;
    int version = 0;     // 1 or 2
    std::size_t length;  // bytes the header takes on the wire; the connection's own bytes follow
    proxy_endpoint source, destination;  // relayed only: the client, and the address it reached
};

struct proxy_parse {
    enum class status { need_more, done, invalid };
    status state = status::need_more;
    proxy_header header{};  // when done
    std::string error;      // when invalid: what was wrong, for the log
};

// Largest header accepted: v1's own limit is 107 bytes; v2 allows 64 KiB of TLVs, of which no
// balancer we know sends more than a few hundred bytes.
inline constexpr std::size_t proxy_header_limit = 1024;

// Parses the start of a connection's bytes. need_more means every byte given belongs to a header
// that is not complete yet (so a reader may consume them all before it waits for more).
proxy_parse parse_proxy_header(std::string_view bytes);

}  // namespace ferry::proto
