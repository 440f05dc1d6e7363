#pragma once
// ftp:// and ftps:// URLs (RFC 1738 section 3.2 with percent-decoding). Pure.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::client {

struct ftp_url {
    bool implicit_tls = false;  // ftps:// : TLS from connect (default port 990)
    std::string user, password;
    bool has_user = false, has_password = false;
    std::string host;           // without IPv6 brackets
    std::uint16_t port = 21;
    // The path relative to the login folder: "ftp://h/dir/f" -> "dir/f"; an absolute path needs
    // a second slash or %2F: "ftp://h//etc/f" and "ftp://h/%2Fetc/f" -> "/etc/f".
    std::string path;
    bool names_directory = true;  // empty path or trailing '/'
    char type = 0;                // ";type=a" / ";type=i" suffix: 'A' / 'I'; 0 when absent

    // "ftp://user@host:port/path" without the password, for messages.
    std::string display() const;
    // "host:port" with brackets for IPv6, the key in known_servers.
    std::string host_port() const;
};

// bare_host_ok: "host", "host:port" or "host/path" without a scheme count as ftp:// (for `open`).
// Fails with a message for other schemes, bad ports, bad escapes, and control characters
// (SECURITY: command injection: "%0D%0ADELE x" in a path would become a second command).
std::optional<ftp_url> parse_url(std::string_view text, bool bare_host_ok, std::string& error);

// "%41b" -> "Ab"; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace ferry::client
