// The server's statements (rows of the one schema table; see schema.hpp).
#include "config/detail/arguments.hpp"
#include "config/schema.hpp"

namespace ferry::config {
namespace {
using namespace detail;

bool redirect_choice(const statement& st, std::string_view second, redirect_policy& out, std::string& err) {
    if (!want_args(st, 1, 1, std::string("NOREDIRECT or ") + std::string(second), err)) return false;
    int c = choice(st, 0, {"NOREDIRECT", second}, err);
    if (c < 0) return false;
    out = c == 0 ? redirect_policy::noredirect : redirect_policy::redirect;
    return true;
}

}  // namespace

extern const std::vector<schema_entry> server_statements;
const std::vector<schema_entry> server_statements = {
    {"LISTEN", side::server, "address port", "0.0.0.0 21",
     "Control-connection listener (explicit TLS via AUTH, or plain). Repeat for more addresses; IPv4 and IPv6.", true,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 2, 2, "an address and a port", err)) return false;
         if (!ip_literal(st.args[0])) {
             err = "LISTEN: '" + st.args[0] + "' is not a numeric IPv4 or IPv6 address";
             return false;
         }
         unsigned long port;
         if (!number(st, 1, 0, 65535, port, err)) return false;
         s.listen.push_back({st.args[0], static_cast<std::uint16_t>(port)});
         return true;
     }},
    {"TLSPORT", side::server, "port", "990",
     "Implicit-TLS control port (unconditional mode): TLS starts at connect. 0 disables it.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long port;
         if (!want_args(st, 1, 1, "a port", err) || !number(st, 0, 0, 65535, port, err)) return false;
         s.tls_port = static_cast<std::uint16_t>(port);
         s.tls_port_set = true;
         return true;
     }},
    {"KEYRING", side::server, "file", "(none)",
     "PEM file holding the server certificate chain and its private key. Needed for any TLS.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a file name", err)) return false;
         s.keyring = st.args[0];
         return true;
     }},
    {"USERS", side::server, "file", "(none)",
     "Virtual users file: one 'name:crypt-hash:home-folder' per line (openssl passwd -6 hashes).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a file name", err)) return false;
         s.users = st.args[0];
         return true;
     }},
    {"PASSIVEDATAPORTS", side::server, "low high", "(any ephemeral port)",
     "Port range for PASV/EPSV listeners, so a firewall can permit exactly these ports.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long lo, hi;
         if (!want_args(st, 2, 2, "a low and a high port", err) || !number(st, 0, 1024, 65535, lo, err) ||
             !number(st, 1, 1024, 65535, hi, err))
             return false;
         if (lo > hi) {
             err = "PASSIVEDATAPORTS: the low port " + st.args[0] + " is above the high port " + st.args[1];
             return false;
         }
         s.passive_low = static_cast<std::uint16_t>(lo);
         s.passive_high = static_cast<std::uint16_t>(hi);
         return true;
     }},
    {"EXTENSIONS", side::server, "AUTH_TLS", "(TLS not offered on the control port)",
     "AUTH_TLS offers TLS on the control port (AUTH TLS, listed in FEAT).", true,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "AUTH_TLS", err) || choice(st, 0, {"AUTH_TLS"}, err) < 0) return false;
         s.auth_tls = true;
         return true;
     }},
    {"SECURE_FTP", side::server, "ALLOWED | REQUIRED", "ALLOWED",
     "REQUIRED refuses login and file commands until the control connection is protected by TLS.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "ALLOWED or REQUIRED", err)) return false;
         int c = choice(st, 0, {"ALLOWED", "REQUIRED"}, err);
         if (c < 0) return false;
         s.secure = c == 0 ? secure_ftp::allowed : secure_ftp::required;
         return true;
     }},
    {"SECURE_DATACONN", side::server, "NEVER | CLEAR | PRIVATE", "CLEAR",
     "NEVER refuses PROT P; CLEAR lets the client choose; PRIVATE refuses PROT C and transfers before PROT P.",
     false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "NEVER, CLEAR or PRIVATE", err)) return false;
         int c = choice(st, 0, {"NEVER", "CLEAR", "PRIVATE"}, err);
         if (c < 0) return false;
         s.dataconn = c == 0 ? secure_dataconn::never : c == 1 ? secure_dataconn::clear : secure_dataconn::private_;
         return true;
     }},
    {"INACTIVE", side::server, "seconds", "300",
     "Idle limit of the control connection (no command received); the session gets 421 and is closed.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of seconds", err) || !number(st, 0, 1, 86400, v, err)) return false;
         s.inactive_seconds = static_cast<unsigned>(v);
         return true;
     }},
    {"DATACTTIME", side::server, "seconds", "60",
     "How long to wait for a data connection to arrive or for a stalled transfer to move (425/426).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of seconds", err) || !number(st, 0, 1, 86400, v, err)) return false;
         s.data_timeout_seconds = static_cast<unsigned>(v);
         return true;
     }},
    {"PASSIVEDATACONN", side::server, "NOREDIRECT | REDIRECT", "NOREDIRECT",
     "NOREDIRECT refuses a passive data connection from any address but the control client's.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         return redirect_choice(st, "REDIRECT", s.passive_dataconn, err);
     }},
    {"PORTCOMMANDIPADDR", side::server, "NOREDIRECT | UNRESTRICTED", "NOREDIRECT",
     "NOREDIRECT refuses PORT/EPRT naming any address but the control client's (FTP bounce).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         return redirect_choice(st, "UNRESTRICTED", s.port_ipaddr, err);
     }},
    {"PORTCOMMANDPORT", side::server, "NOLOWPORTS | UNRESTRICTED", "NOLOWPORTS",
     "NOLOWPORTS refuses PORT/EPRT naming a port below 1024.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "NOLOWPORTS or UNRESTRICTED", err)) return false;
         int c = choice(st, 0, {"NOLOWPORTS", "UNRESTRICTED"}, err);
         if (c < 0) return false;
         s.port_low_ports = c == 1;
         return true;
     }},
    {"FTPKEEPALIVE", side::server, "seconds", "0 (system default)",
     "TCP keepalive idle time on the control connection, so firewalls keep it during long transfers.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of seconds", err) || !number(st, 0, 0, 86400, v, err)) return false;
         s.keepalive_seconds = static_cast<unsigned>(v);
         return true;
     }},
};


}  // namespace ferry::config
