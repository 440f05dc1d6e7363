#include "net/address_policy.hpp"

namespace ferry::net {

asio::ip::address unmapped(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return a;
}

bool same_host(const asio::ip::address& a, const asio::ip::address& b) { return unmapped(a) == unmapped(b); }

std::string check_active_target(const asio::ip::address& control_peer, const asio::ip::address& target,
                                std::uint16_t port, bool any_address, bool low_ports) {
    if (!any_address && !same_host(control_peer, target))
        return "Illegal PORT command: the data address must be your own (" + unmapped(control_peer).to_string() + ")";
    if (!low_ports && port < 1024) return "Illegal PORT command: data ports below 1024 are not allowed";
    if (port == 0) return "Illegal PORT command: port 0";
    return {};
}

}  // namespace ferry::net
