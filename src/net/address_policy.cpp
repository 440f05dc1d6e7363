#include "net/address_policy.hpp"

namespace ferry::net {

asio::ip::address unmapped(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return a;
}

bool same_host(const asio::ip::address& a, const asio::ip::address& b) { return unmapped(a) == unmapped(b); }

std::string host_key(const asio::ip::address& a) {
    asio::ip::address u = unmapped(a);
    if (u.is_v4()) return u.to_string();
    auto bytes = u.to_v6().to_bytes();
    for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
    return asio::ip::address_v6(bytes).to_string() + "/64";
}

std::string check_active_target(const asio::ip::address& control_peer, const asio::ip::address& target,
                                std::uint16_t port, bool any_address, bool low_ports) {
    if (!any_address && !same_host(control_peer, target))
        return "Illegal PORT command: the data address must be your own (" + unmapped(control_peer).to_string() + ")";
    if (!low_ports && port < 1024) return "Illegal PORT command: data ports below 1024 are not allowed";
    if (port == 0) return "Illegal PORT command: port 0";
    return {};
}

bool in_subnet(const asio::ip::address& a, const std::string& cidr) {
    auto slash = cidr.find('/');
    if (slash == std::string::npos) return false;
    std::error_code ec;
    asio::ip::address net = unmapped(asio::ip::make_address(cidr.substr(0, slash), ec));
    if (ec) return false;
    unsigned bits = 0;
    try {
        bits = static_cast<unsigned>(std::stoul(cidr.substr(slash + 1)));
    } catch (...) {
        return false;
    }
    asio::ip::address host = unmapped(a);
    if (host.is_v4() != net.is_v4()) return false;
    auto compare = [bits](const auto& x, const auto& y) {
        if (bits > x.size() * 8) return false;
        for (unsigned i = 0; i < bits; ++i) {
            unsigned byte = i / 8, bit = 7 - i % 8;
            if (((x[byte] >> bit) & 1) != ((y[byte] >> bit) & 1)) return false;
        }
        return true;
    };
    if (host.is_v4()) return compare(host.to_v4().to_bytes(), net.to_v4().to_bytes());
    return compare(host.to_v6().to_bytes(), net.to_v6().to_bytes());
}

}  // namespace ferry::net
