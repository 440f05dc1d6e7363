#pragma once
// `ferryd haproxy-config`: the haproxy.cfg that puts several ferryd nodes behind one public
// address (issue 15). Control connections are balanced over the nodes; each node's passive
// range is forwarded to that node only, since a PASV/EPSV reply names a port that one node
// listens on. Every connection carries a PROXY v2 header (the nodes' PROXYPROTOCOL FROM).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::server {

struct haproxy_node {
    std::string address;  // IPv4, as the balancer reaches the node
    std::uint16_t passive_low = 0, passive_high = 0;
};

struct haproxy_layout {
    std::string public_address;  // IPv4 the clients connect to (the nodes' PASSIVEADDRESS)
    std::vector<haproxy_node> nodes;
    std::uint16_t control_port = 21;
    std::uint16_t tls_port = 0;  // implicit TLS (TLSPORT); 0: none
};

// "10.0.1.2:50000-50099" -> a node; nullopt with error saying what is wrong.
std::optional<haproxy_node> parse_haproxy_node(std::string_view text, std::string& error);
// What makes the layout unusable (no node, overlapping passive ranges, a range that holds a
// control port, a bad public address), or empty.
std::string check_haproxy_layout(const haproxy_layout& layout);
// The whole haproxy.cfg, with a header saying what each node's ferryd needs.
std::string haproxy_config(const haproxy_layout& layout);

}  // namespace ferry::server
