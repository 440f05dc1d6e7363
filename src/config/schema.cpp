#include "config/schema.hpp"

#include <charconv>
#include <initializer_list>

namespace ferry::config {
namespace {

bool want_args(const statement& st, std::size_t lo, std::size_t hi, std::string_view syntax, std::string& err) {
    if (st.args.size() >= lo && st.args.size() <= hi) return true;
    err = st.keyword + " takes " + std::string(syntax) + ", not " + std::to_string(st.args.size()) +
          (st.args.size() == 1 ? " value" : " values");
    return false;
}

// Case-insensitive choice among allowed words; returns the index or -1 with a message.
int choice(const statement& st, std::size_t i, std::initializer_list<std::string_view> allowed, std::string& err) {
    std::string v = st.args[i];
    for (auto& c : v) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    int idx = 0;
    for (auto a : allowed) {
        if (v == a) return idx;
        ++idx;
    }
    err = st.keyword + ": '" + st.args[i] + "' is not allowed; use ";
    idx = 0;
    for (auto a : allowed) err += (idx++ ? " or " : "") + std::string(a);
    return -1;
}

bool number(const statement& st, std::size_t i, unsigned long lo, unsigned long hi, unsigned long& out,
            std::string& err) {
    const std::string& s = st.args[i];
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || p != s.data() + s.size() || out < lo || out > hi) {
        err = st.keyword + ": '" + s + "' is not a number from " + std::to_string(lo) + " to " + std::to_string(hi);
        return false;
    }
    return true;
}

bool ip_literal(std::string_view s) {
    // Accept numeric IPv4/IPv6 text only; host names would make the listener depend on DNS.
    if (s.empty()) return false;
    bool v4 = s.find_first_not_of("0123456789.") == std::string_view::npos && s.find('.') != std::string_view::npos;
    bool v6 = s.find(':') != std::string_view::npos && s.find_first_not_of("0123456789abcdefABCDEF:.") == std::string_view::npos;
    return v4 || v6;
}

bool redirect_choice(const statement& st, std::string_view second, redirect_policy& out, std::string& err) {
    if (!want_args(st, 1, 1, std::string("NOREDIRECT or ") + std::string(second), err)) return false;
    int c = choice(st, 0, {"NOREDIRECT", second}, err);
    if (c < 0) return false;
    out = c == 0 ? redirect_policy::noredirect : redirect_policy::redirect;
    return true;
}

const std::vector<schema_entry> table = {
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

}  // namespace

const std::vector<schema_entry>& schema() { return table; }

const schema_entry* find_entry(std::string_view keyword, side where) {
    for (const auto& e : table)
        if (e.keyword == keyword && e.where == where) return &e;
    return nullptr;
}

std::string describe(side where) {
    std::string out;
    for (const auto& e : table) {
        if (e.where != where) continue;
        out += std::string(e.keyword) + " " + std::string(e.syntax) + "   (default: " + std::string(e.default_value) +
               ")\n    " + std::string(e.meaning) + "\n";
    }
    return out;
}

}  // namespace ferry::config
