#include "net/listen.hpp"

#include <asio/ip/v6_only.hpp>

namespace ferry::net {

using asio::ip::tcp;

std::error_code listen_on(tcp::acceptor& acceptor, const tcp::endpoint& at) {
    std::error_code ec;
    acceptor.open(at.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && at.address().is_v6()) acceptor.set_option(asio::ip::v6_only(false), ec);
    if (!ec) acceptor.bind(at, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    return ec;
}

std::string listen_failure(const std::string& host, unsigned port, const std::string& what, const std::error_code& ec) {
    return "cannot listen on " + host + " port " + std::to_string(port) + (what.empty() ? "" : " (" + what + ")") +
           ": " + ec.message() +
           (port < 1024 && ec == asio::error::access_denied ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                                                            : "");
}

}  // namespace ferry::net
