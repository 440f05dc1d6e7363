#include "client/error.hpp"

namespace ferry::client {
namespace {
class category_impl : public std::error_category {
public:
    const char* name() const noexcept override { return "ferry.client"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::connect_failed: return "cannot connect";
            case errc::tls_failed: return "TLS failed";
            case errc::untrusted_server: return "server certificate not trusted";
            case errc::login_failed: return "login failed";
            case errc::not_connected: return "not connected";
            case errc::protocol_error: return "protocol error";
            case errc::server_refused: return "refused by the server";
            case errc::data_connection_failed: return "data connection failed";
            case errc::transfer_failed: return "transfer failed";
            case errc::local_file_error: return "local file error";
            case errc::timeout: return "timed out";
            case errc::connection_closed: return "connection closed by the server";
            case errc::unsupported: return "not supported";
        }
        return "client error";
    }
};
}  // namespace

const std::error_category& client_category() {
    static category_impl c;
    return c;
}

}  // namespace ferry::client
