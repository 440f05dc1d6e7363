#pragma once
// Typed settings, filled from statements by the schema (schema.hpp).
#include <cstdint>
#include <string>
#include <vector>

namespace ferry::config {

struct listen_address {
    std::string host;
    std::uint16_t port = 0;
};

enum class secure_ftp { allowed, required };
enum class secure_dataconn { never, clear, private_ };
enum class redirect_policy { noredirect, redirect };  // PASSIVEDATACONN / PORTCOMMANDIPADDR

struct server_settings {
    std::vector<listen_address> listen;  // empty means the default: 0.0.0.0 port 21
    std::uint16_t tls_port = 990;        // implicit TLS (unconditional mode); 0 disables
    bool tls_port_set = false;
    std::string keyring;                 // PEM: certificate chain + private key
    std::string users;                   // virtual users file
    std::uint16_t passive_low = 0, passive_high = 0;  // 0,0: any ephemeral port
    bool auth_tls = false;               // EXTENSIONS AUTH_TLS
    secure_ftp secure = secure_ftp::allowed;
    secure_dataconn dataconn = secure_dataconn::clear;
    unsigned inactive_seconds = 300;     // control connection idle limit
    unsigned data_timeout_seconds = 60;  // DATACTTIME: data connection wait / stall limit
    redirect_policy passive_dataconn = redirect_policy::noredirect;
    redirect_policy port_ipaddr = redirect_policy::noredirect;
    bool port_low_ports = false;         // PORTCOMMANDPORT UNRESTRICTED
    unsigned keepalive_seconds = 0;      // FTPKEEPALIVE; 0 = system default / off

    bool tls_configured() const { return !keyring.empty(); }
};

// Reads a server configuration file. On error returns false with "file:line: ..." in error.
bool load_server_settings(const std::string& path, server_settings& out, std::string& error);
// The same from text (tests, embedded defaults).
bool parse_server_settings(std::string_view text, std::string_view file, server_settings& out,
                           std::string& error);

}  // namespace ferry::config
