#pragma once
// Host names for PASSIVEADDRESS, resolved when used and again once the answer is older than
// max_age, so a dynamic-DNS name follows the router's changing public address.
#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <system_error>

namespace ferry::net {

class name_cache {
public:
    explicit name_cache(std::chrono::seconds max_age = std::chrono::seconds(30)) : max_age_(max_age) {}
    // An IPv4 address for name (numeric text is returned as is). Thread-safe.
    asio::awaitable<asio::ip::address_v4> resolve_v4(std::string name, std::error_code& ec);

private:
    struct entry {
        asio::ip::address_v4 address;
        std::chrono::steady_clock::time_point when;
    };
    std::chrono::seconds max_age_;
    std::mutex mutex_;
    std::map<std::string, entry> entries_;
};

}  // namespace ferry::net
