#pragma once
// Typed settings, filled from statements by the schema (schema.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/tls_rfc_level.hpp"

namespace ferry::config {

struct listen_address {
    std::string host;
    std::uint16_t port = 0;
};
// ferryd --listen: "ADDRESS:PORT", "[IPV6]:PORT" or a bare PORT (on 0.0.0.0); empty if malformed.
std::optional<listen_address> parse_listen_address(std::string_view text);

enum class secure_ftp { allowed, required };
enum class secure_dataconn { never, clear, private_ };
enum class redirect_policy { noredirect, redirect };  // PASSIVEDATACONN / PORTCOMMANDIPADDR
enum class secure_login { no_client_auth, required, verify_user };
enum class tls_protocol { v1_0, v1_1, v1_2, v1_3 };  // TLSMINVERSION

// A value together with the statement it came from, for errors found after parsing
// (a cipher name only OpenSSL can judge, a file that cannot be read).
struct located {
    std::string value;
    std::string where;  // "file:line"
};

// PASSIVEADDRESS: the address written in PASV replies, for clients inside `cidr` (empty: all).
struct passive_address {
    std::string address;  // numeric IPv4 or a host name (resolved when it changes)
    std::string cidr;     // "192.168.0.0/16", or empty for everyone else
};

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
    unsigned shutdown_grace_seconds = 30;  // SHUTDOWNGRACE: how long SIGTERM waits for transfers
    std::uint64_t download_rate = 0;     // DOWNLOADRATE: bytes/s of each download; 0: no limit
    std::uint64_t upload_rate = 0;       // UPLOADRATE: bytes/s of each upload; 0: no limit
    bool upload_close_notify_required = true;  // UPLOADCLOSENOTIFY: a PROT P upload ends with close_notify
    unsigned umask = 022;                // UMASK: permissions taken away from created files and folders
    redirect_policy passive_dataconn = redirect_policy::noredirect;
    redirect_policy port_ipaddr = redirect_policy::noredirect;
    bool port_low_ports = false;         // PORTCOMMANDPORT UNRESTRICTED
    bool active_from_port_20 = true;     // ACTIVEDATAPORT 20 (falls back to ephemeral if not permitted)
    unsigned keepalive_seconds = 0;      // FTPKEEPALIVE; 0 = system default / off
    std::vector<passive_address> passive_addresses;
    // PROXYPROTOCOL FROM (issue 15): the load balancers' subnets. When set, every control, TLSPORT
    // and passive data connection must come from one of them and start with a PROXY header.
    std::vector<std::string> proxy_from;

    // Limits (issue 10). 0 means unlimited for the session counts and LOGINATTEMPTS.
    unsigned max_sessions = 2000;          // MAXSESSIONS: control connections in all
    unsigned max_sessions_per_host = 50;   // MAXSESSIONSPERHOST: from one address (IPv6: one /64)
    unsigned max_sessions_per_user = 0;    // MAXSESSIONSPERUSER: logged in as one user
    unsigned login_timeout_seconds = 30;   // LOGINTIMEOUT: time to log in after connecting
    unsigned login_attempts = 10;          // LOGINATTEMPTS n seconds: failures from one address...
    unsigned login_attempts_seconds = 300; // ...within this window refuse it until the window passes

    // Process model (issue 10): whom sessions run as once the listeners are bound, and whether
    // Landlock and seccomp confine them.
    located run_as;                        // RUNAS: empty means "ferry" if that user exists
    bool sandbox = true;                   // SANDBOX ON | OFF
    bool hash_commands = true;             // HASHCOMMANDS: HASH, XSHA*, XMD5, XCRC
    // System users (PAM), beside the virtual users file.
    located system_users;                  // SYSTEMUSERS ON | OFF: value "ON" when on
    std::string pam_service = "ferryd";    // PAMSERVICE
    std::string system_homes = "/home";    // SYSTEMHOMES: their homes must be below it
    unsigned system_min_uid = 1000;        // SYSTEMMINUID: lower uids (service accounts) refused

    // TLS policy (seed 003: steps for customizing the FTP server for TLS)
    tls_rfc_level rfc_level = tls_rfc_level::draft;
    secure_login login = secure_login::no_client_auth;
    bool password_optional = false;      // SECURE_PASSWORD OPTIONAL
    bool session_reuse_required = false; // SECURE_SESSION_REUSE REQUIRED
    unsigned tls_timeout_seconds = 100;  // TLSTIMEOUT: resumable-session lifetime
    std::string ticket_key_file;         // TICKETKEYFILE: secret shared by nodes; ticket keys derive from it
    std::vector<located> ciphersuites;   // CIPHERSUITE, in order of preference
    tls_protocol tls_min = tls_protocol::v1_2;
    std::string cafile;                  // CAFILE: CAs trusted for client certificates
    std::string crlfile;                 // CRLFILE: their revocation lists
    std::string certmap;                 // CERTMAP: client certificate -> user
    std::string tls_server_name;         // TLSSERVERNAME: required SNI, if set

    // Logs (issue 14)
    std::string xferlog;                 // XFERLOG: transfer log in xferlog(5) format; "-": stdout; empty: none
    std::string jsonlog;                 // JSONLOG: one JSON object per event; "-": stdout; empty: none
    std::optional<listen_address> metrics;  // METRICS: Prometheus endpoint (address port); none: off

    bool tls_configured() const { return !keyring.empty(); }
};

// Reads a server configuration file. On error returns false with "file:line: ..." in error.
bool load_server_settings(const std::string& path, server_settings& out, std::string& error);
// The same from text (tests, embedded defaults).
bool parse_server_settings(std::string_view text, std::string_view file, server_settings& out,
                           std::string& error);
// The same, going on past a wrong statement: every problem ("file:line: ...") is added to
// problems; true when there is none. Combinations of statements are checked only when every
// statement on its own is right.
bool parse_server_settings_all(std::string_view text, std::string_view file, server_settings& out,
                               std::vector<std::string>& problems);

// Every server statement of the schema table with its effective value in s, in the table's order,
// written as the statement would be ("0.0.0.0 21", "ALLOWED"); a statement that is not in effect
// (KEYRING not given) has "(none)". Repeatable statements given more than once have one entry
// per value.
struct effective_value {
    std::string keyword;
    std::string value;
};
std::vector<effective_value> effective_values(const server_settings& s);

}  // namespace ferry::config
