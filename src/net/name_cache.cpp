#include "net/name_cache.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace ferry::net {

asio::awaitable<asio::ip::address_v4> name_cache::resolve_v4(std::string name, std::error_code& ec) {
    ec.clear();
    auto numeric = asio::ip::make_address_v4(name, ec);
    if (!ec) co_return numeric;
    ec.clear();
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(name);
        if (it != entries_.end() && now - it->second.when < max_age_) co_return it->second.address;
    }
    asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
    auto [rec, results] = co_await resolver.async_resolve(asio::ip::tcp::v4(), name, "",
                                                          asio::experimental::as_tuple(asio::use_awaitable));
    if (rec || results.empty()) {
        ec = rec ? rec : asio::error::host_not_found;
        std::lock_guard lock(mutex_);
        auto it = entries_.find(name);  // keep the last good answer while DNS is down
        if (it != entries_.end()) {
            ec.clear();
            co_return it->second.address;
        }
        co_return asio::ip::address_v4();
    }
    auto addr = results.begin()->endpoint().address().to_v4();
    std::lock_guard lock(mutex_);
    entries_[name] = {addr, now};
    co_return addr;
}

}  // namespace ferry::net
