#pragma once
// The client's settings (client FTP.DATA-style file, command-line options, LOCSITE).
// Names and meanings follow the z/OS FTP client (see the README's client section); where ferry's
// default differs from z/OS the statement's `meaning` in client_statements.cpp says so.
#include <string>
#include <string_view>
#include <vector>

#include "config/tls_rfc_level.hpp"

namespace ferry::config {

// SECURE_DATACONN on the client: the PROT level asked for after login.
enum class data_protection { clear, private_ };
enum class tls_version { any, tls1_2, tls1_3 };

struct client_settings {
    bool fwfriendly = true;            // passive (PASV/EPSV) data connections; false: active PORT/EPRT
    bool epsv4 = false;                // EPSV / EPRT also over IPv4
    bool passive_ignore_addr = false;  // connect to the control peer, ignoring the PASV reply's address
    tls_rfc_level tls_rfc = tls_rfc_level::draft;
    bool secure_implicit_zos = false;  // implicit TLS: read the 220 in clear, then handshake
    unsigned keepalive_seconds = 0;    // FTPKEEPALIVE: TCP keepalive + NOOP during transfers; 0 = off
    bool require_tls = true;           // SECURE_FTP REQUIRED: never continue without TLS
    data_protection dataconn = data_protection::private_;
    tls_version tls_min = tls_version::tls1_2;
    tls_version tls_max = tls_version::any;
    std::vector<std::string> ciphers;  // CIPHERSUITE (OpenSSL names; TLS 1.3 suites start with TLS_)
    std::string ca_file;               // CAFILE: trust only these CAs instead of the system store
    std::string cert_file;             // CERTFILE: client certificate chain (PEM)
    std::string key_file;              // KEYFILE: its private key (PEM); default: CERTFILE
    unsigned connect_timeout = 30;     // MYOPENTIME
    unsigned reply_timeout = 120;      // INACTTIME: wait for a server reply
    unsigned data_timeout = 120;       // DATACTTIME: data connection set-up / stall limit
};

// Reads a client configuration file. On error returns false with "file:line: ..." in error.
bool load_client_settings(const std::string& path, client_settings& out, std::string& error);
// The same from text (tests, --set).
bool parse_client_settings(std::string_view text, std::string_view file, client_settings& out,
                           std::string& error);

// LOCSITE at the prompt (z/OS style): one or more settings on one line, each as
//   KEYWORD value | KEYWORD=value | KEYWORD (boolean: TRUE) | NOKEYWORD (boolean: FALSE)
// e.g. "locsite EPSV4 NOFWFRIENDLY TLSRFCLEVEL=RFC4217". Applied through the same table as the
// file, all or nothing: on error s is unchanged and error says why.
bool apply_locsite(client_settings& s, std::string_view line, std::string& error);

// "FWFRIENDLY TRUE\nEPSV4 FALSE\n..." : every client setting in statement form, for `locsite`
// without arguments and `status`.
std::string describe_client_settings(const client_settings& s);

}  // namespace ferry::config
