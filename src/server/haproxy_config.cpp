#include "server/haproxy_config.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>

#include <charconv>

namespace ferry::server {

namespace {

bool ipv4(const std::string& text) {
    in_addr a{};
    return ::inet_pton(AF_INET, text.c_str(), &a) == 1;
}

bool port_number(std::string_view text, std::uint16_t& out) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v == 0 || v > 65535) return false;
    out = static_cast<std::uint16_t>(v);
    return true;
}

}  // namespace

std::optional<haproxy_node> parse_haproxy_node(std::string_view text, std::string& error) {
    const auto colon = text.rfind(':');
    const auto dash = colon == std::string_view::npos ? colon : text.find('-', colon);
    haproxy_node n;
    if (colon == std::string_view::npos || dash == std::string_view::npos) {
        error = "--node '" + std::string(text) + "': expected ADDRESS:LOW-HIGH, e.g. 10.0.1.2:50000-50099";
        return std::nullopt;
    }
    n.address = std::string(text.substr(0, colon));
    if (!ipv4(n.address)) {
        error = "--node '" + std::string(text) + "': '" + n.address + "' is not an IPv4 address";
        return std::nullopt;
    }
    if (!port_number(text.substr(colon + 1, dash - colon - 1), n.passive_low) ||
        !port_number(text.substr(dash + 1), n.passive_high) || n.passive_low > n.passive_high) {
        error = "--node '" + std::string(text) + "': the passive range must be LOW-HIGH with 1 <= LOW <= HIGH <= 65535";
        return std::nullopt;
    }
    return n;
}

std::string check_haproxy_layout(const haproxy_layout& l) {
    if (!ipv4(l.public_address))
        return "--public '" + l.public_address + "' is not an IPv4 address (PASV replies name IPv4 only)";
    if (l.nodes.empty()) return "give at least one --node ADDRESS:LOW-HIGH";
    for (std::size_t i = 0; i < l.nodes.size(); ++i) {
        const auto& a = l.nodes[i];
        for (std::uint16_t port : {l.control_port, l.tls_port})
            if (port != 0 && port >= a.passive_low && port <= a.passive_high)
                return fmt::format("node {}'s passive range {}-{} holds the control port {}", a.address, a.passive_low,
                                   a.passive_high, port);
        for (std::size_t j = i + 1; j < l.nodes.size(); ++j) {
            const auto& b = l.nodes[j];
            // Each passive port must lead to one node: the one whose reply named it.
            if (a.passive_low <= b.passive_high && b.passive_low <= a.passive_high)
                return fmt::format("the passive ranges of {} ({}-{}) and {} ({}-{}) overlap: each node needs its own",
                                   a.address, a.passive_low, a.passive_high, b.address, b.passive_low, b.passive_high);
            if (a.address == b.address) return "node " + a.address + " is given twice";
        }
    }
    return {};
}

std::string haproxy_config(const haproxy_layout& l) {
    std::string out = "# haproxy.cfg for " + std::to_string(l.nodes.size()) + " ferryd node(s) behind " + l.public_address +
                      " (ferryd haproxy-config)\n#\n# Each node's ferryd configuration needs:\n";
    out += "#   PROXYPROTOCOL FROM <this balancer's address or subnet as the nodes see it>\n";
    out += fmt::format("#   PASSIVEADDRESS {}\n", l.public_address);
    out += "#   PASSIVEDATAPORTS <the node's own range, below>\n";
    out += "#   TICKETKEYFILE <the same secret file on every node> (clients resume TLS on any node)\n";
    for (std::size_t i = 0; i < l.nodes.size(); ++i)
        out += fmt::format("#   node{} {}: PASSIVEDATAPORTS {} {}\n", i + 1, l.nodes[i].address, l.nodes[i].passive_low,
                           l.nodes[i].passive_high);
    out += "# and every node serves the same folder (shared storage).\n\n";
    // No maxconn: HAProxy sizes it from its descriptor limit (LimitNOFILE), two per session.
    // Long client/server timeouts: ferryd's own INACTIVE and DATACTTIME end idle sessions.
    out += "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 1h\n"
           "    timeout server 1h\n    option redispatch\n    retries 3\n\n";
    auto control = [&](const char* name, std::uint16_t port) {
        out += fmt::format("frontend ferry_{}\n    bind {}:{}\n    default_backend ferry_{}_nodes\n\n", name,
                           l.public_address, port, name);
        // SIGTERM closes a node's listeners: the check then marks it down and new sessions go
        // to the others while its transfers finish.
        out += fmt::format("backend ferry_{}_nodes\n    balance leastconn\n", name);
        for (std::size_t i = 0; i < l.nodes.size(); ++i)
            out += fmt::format("    server node{} {}:{} send-proxy-v2 check inter 1s fall 2 rise 2\n", i + 1,
                               l.nodes[i].address, port);
        out += "\n";
    };
    control("control", l.control_port);
    if (l.tls_port != 0) control("implicit_tls", l.tls_port);
    for (std::size_t i = 0; i < l.nodes.size(); ++i) {
        const auto& n = l.nodes[i];
        // A server without a port keeps the port the client connected to.
        out += fmt::format("frontend ferry_passive_node{0}\n    bind {1}:{2}-{3}\n    default_backend ferry_passive_node{0}\n\n",
                           i + 1, l.public_address, n.passive_low, n.passive_high);
        out += fmt::format("backend ferry_passive_node{0}\n    server node{0} {1} send-proxy-v2\n\n", i + 1, n.address);
    }
    return out;
}

}  // namespace ferry::server
