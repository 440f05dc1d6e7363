#pragma once
// Client errors: an errc per failure class (category "ferry.client") plus the message for the
// user. Expected network and server failures travel as values, never as exceptions.
#include <string>
#include <system_error>

namespace ferry::client {

enum class errc {
    connect_failed = 1,      // DNS, TCP connect, greeting
    tls_failed,              // handshake, AUTH refused while TLS is required
    untrusted_server,        // certificate not trusted and not accepted
    login_failed,            // USER/PASS refused
    not_connected,
    protocol_error,          // a reply we cannot understand
    server_refused,          // a negative reply to a command
    data_connection_failed,  // PASV/EPSV/PORT/EPRT or the data connection itself
    transfer_failed,         // the transfer started but did not complete
    local_file_error,        // reading or writing a local file
    timeout,
    connection_closed,       // the server closed the control connection
    unsupported,             // e.g. CCC with TLSRFCLEVEL DRAFT
};

const std::error_category& client_category();
inline std::error_code make_error_code(errc e) { return {static_cast<int>(e), client_category()}; }

struct outcome {
    std::error_code ec;
    std::string message;  // complete sentence for the user; empty when ok
    int reply_code = 0;   // the server's reply code when the server refused

    explicit operator bool() const { return !ec; }
    static outcome ok() { return {}; }
    static outcome fail(errc e, std::string msg, int code = 0) { return {make_error_code(e), std::move(msg), code}; }
};

}  // namespace ferry::client

template <>
struct std::is_error_code_enum<ferry::client::errc> : std::true_type {};
