#pragma once
// A listening socket for a server port (the control listeners, METRICS): SO_REUSEADDR, IPv6
// sockets taking IPv4 too, the system's backlog.
#include <asio/ip/tcp.hpp>
#include <string>
#include <system_error>

namespace ferry::net {

std::error_code listen_on(asio::ip::tcp::acceptor& acceptor, const asio::ip::tcp::endpoint& at);

// "cannot listen on HOST port PORT (WHAT): why", with a hint for a refused port below 1024.
std::string listen_failure(const std::string& host, unsigned port, const std::string& what, const std::error_code& ec);

}  // namespace ferry::net
