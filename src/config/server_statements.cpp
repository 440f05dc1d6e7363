// The server's statements (rows of the one schema table; see schema.hpp).
#include "config/detail/arguments.hpp"
#include "config/schema.hpp"
#include "config/values.hpp"

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
         for (const auto& l : s.listen)
             if (l.host == st.args[0] && l.port == port) {
                 err = "LISTEN " + st.args[0] + " " + st.args[1] + " is given twice";
                 return false;
             }
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
     "Virtual users file: one 'name:crypt-hash:home-folder[:options]' per line (yescrypt or openssl passwd -6 "
     "hashes); options: readonly, download=RATE, upload=RATE, sha256=FINGERPRINT, from=SUBNET.", false,
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
    {"DOWNLOADRATE", side::server, "bytes/s", "0 (no limit)",
     "Most bytes a second each download (RETR) moves, on its data connection; K, M or G for 1024, 1024^2, "
     "1024^3 (512K, 10M). 0: no limit. Listings are not limited.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         return want_args(st, 1, 1, "a rate in bytes a second", err) && rate(st, 0, s.download_rate, err);
     }},
    {"UPLOADRATE", side::server, "bytes/s", "0 (no limit)",
     "Most bytes a second each upload (STOR, APPE, STOU) moves, on its data connection; K, M or G as for "
     "DOWNLOADRATE. 0: no limit.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         return want_args(st, 1, 1, "a rate in bytes a second", err) && rate(st, 0, s.upload_rate, err);
     }},
    {"HASHCOMMANDS", side::server, "TRUE | FALSE", "TRUE",
     "TRUE answers HASH (SHA-256, SHA-512, SHA-1, MD5 chosen with OPTS HASH, a byte range with RANG) and the "
     "older XSHA256, XSHA512, XSHA1, XMD5 and XCRC: a client can check what arrived without downloading it "
     "again. Digests are computed a few at a time, off the event threads, and remembered per file (device, "
     "inode, size, times) so an unchanged file is read once. FALSE refuses them with 502.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "TRUE or FALSE", err)) return false;
         int c = choice(st, 0, {"TRUE", "FALSE"}, err);
         if (c < 0) return false;
         s.hash_commands = c == 0;
         return true;
     }},
    {"SHUTDOWNGRACE", side::server, "seconds", "30",
     "On SIGTERM (or SIGINT) new connections are refused at once and running transfers get this long to "
     "finish; then ferryd exits 0. 0 stops at once.",
     false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of seconds", err) || !number(st, 0, 0, 86400, v, err)) return false;
         s.shutdown_grace_seconds = static_cast<unsigned>(v);
         return true;
     }},
    {"UPLOADCLOSENOTIFY", side::server, "REQUIRED | OPTIONAL", "REQUIRED",
     "REQUIRED: a PROT P upload must end with TLS close_notify, else it is kept as a partial (426) and the old "
     "file stays. OPTIONAL: a bare FIN ends it too, as with PROT C, once the client acknowledges the final reply.",
     false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "REQUIRED or OPTIONAL", err)) return false;
         int c = choice(st, 0, {"REQUIRED", "OPTIONAL"}, err);
         if (c < 0) return false;
         s.upload_close_notify_required = c == 0;
         return true;
     }},
    {"UMASK", side::server, "octal mask", "022",
     "Permission bits taken away from the files (0666) and folders (0777) that clients create.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "an octal mask such as 022", err)) return false;
         const std::string& v = st.args[0];
         if (v.empty() || v.size() > 4 || v.find_first_not_of("01234567") != std::string::npos) {
             err = "UMASK: '" + v + "' is not an octal mask from 000 to 777 such as 022";
             return false;
         }
         unsigned m = static_cast<unsigned>(std::stoul(v, nullptr, 8));
         if (m > 0777) {
             err = "UMASK: '" + v + "' is not an octal mask from 000 to 777 such as 022";
             return false;
         }
         s.umask = m;
         return true;
     }},
    {"RUNAS", side::server, "user", "ferry (if it exists)",
     "Started as root, ferryd binds its listeners and then serves every session as this user, with no "
     "capability but CAP_NET_BIND_SERVICE (kept only for ACTIVEDATAPORT 20). With no RUNAS and no user 'ferry', "
     "ferryd refuses to start as root; RUNAS root accepts sessions as root (capabilities still dropped).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a user name", err)) return false;
         s.run_as = {st.args[0], st.where()};
         return true;
     }},
    {"SYSTEMUSERS", side::server, "ON | OFF", "OFF",
     "ON lets the system's users log in with their own password, checked by PAM (service PAMSERVICE), beside "
     "the USERS file (a name in both is the virtual user). Each session is confined to the user's home folder, "
     "which must be below SYSTEMHOMES, and its file operations run with the user's uid, gid and groups, so the "
     "file permissions apply as for a shell login. Needs ferryd started as root and SANDBOX ON.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "ON or OFF", err)) return false;
         int c = choice(st, 0, {"ON", "OFF"}, err);
         if (c < 0) return false;
         s.system_users = {c == 0 ? "ON" : "", st.where()};
         return true;
     }},
    {"PAMSERVICE", side::server, "name", "ferryd",
     "PAM service that checks system users' passwords and accounts (/etc/pam.d/name; without that file PAM "
     "uses /etc/pam.d/other).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a PAM service name", err)) return false;
         if (st.args[0].find_first_of("/\\") != std::string::npos || st.args[0] == "." || st.args[0] == "..") {
             err = "PAMSERVICE: '" + st.args[0] + "' is not a service name (a file name in /etc/pam.d)";
             return false;
         }
         s.pam_service = st.args[0];
         return true;
     }},
    {"SYSTEMHOMES", side::server, "folder", "/home",
     "System users whose home folder is not below this folder cannot log in. The sandbox opens it read-write "
     "for the sessions of system users.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "an absolute folder name", err)) return false;
         if (st.args[0].empty() || st.args[0][0] != '/' || st.args[0] == "/") {
             err = "SYSTEMHOMES: '" + st.args[0] + "' is not an absolute folder below /";
             return false;
         }
         s.system_homes = st.args[0];
         return true;
     }},
    {"SYSTEMMINUID", side::server, "uid", "1000",
     "System users with a lower uid (service accounts) cannot log in; root never can.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a uid", err) || !number(st, 0, 1, 4294967294ul, v, err)) return false;
         s.system_min_uid = static_cast<unsigned>(v);
         return true;
     }},
    {"SANDBOX", side::server, "ON | OFF", "ON",
     "ON confines the serving process: Landlock limits the file system to the served homes (read-write) and the "
     "TLS files (read-only), and a seccomp allow-list limits the system calls. OFF is for diagnosis only.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "ON or OFF", err)) return false;
         int c = choice(st, 0, {"ON", "OFF"}, err);
         if (c < 0) return false;
         s.sandbox = c == 0;
         return true;
     }},
    {"MAXSESSIONS", side::server, "n", "2000",
     "Most control connections at once; beyond it a new one gets 421 and is closed. 0: no limit (the "
     "descriptor limit still applies).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of sessions", err) || !number(st, 0, 0, 1000000, v, err)) return false;
         s.max_sessions = static_cast<unsigned>(v);
         return true;
     }},
    {"MAXSESSIONSPERHOST", side::server, "n", "50",
     "Most control connections from one client address (IPv6: one /64); beyond it 421 and closed. 0: no limit.",
     false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of sessions", err) || !number(st, 0, 0, 1000000, v, err)) return false;
         s.max_sessions_per_host = static_cast<unsigned>(v);
         return true;
     }},
    {"MAXSESSIONSPERUSER", side::server, "n", "0 (no limit)",
     "Most sessions logged in as one user; a login beyond it gets 421 and the connection is closed. 0: no limit.",
     false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of sessions", err) || !number(st, 0, 0, 1000000, v, err)) return false;
         s.max_sessions_per_user = static_cast<unsigned>(v);
         return true;
     }},
    {"LOGINTIMEOUT", side::server, "seconds", "30",
     "Time a connection has to log in; after it the connection gets 421 and is closed.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of seconds", err) || !number(st, 0, 1, 86400, v, err)) return false;
         s.login_timeout_seconds = static_cast<unsigned>(v);
         return true;
     }},
    {"LOGINATTEMPTS", side::server, "n seconds", "10 300",
     "After n failed logins from one client address (IPv6: one /64) within the window, connections from it get "
     "421 until the window has passed. 0 disables.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long n, secs = s.login_attempts_seconds;
         if (!want_args(st, 1, 2, "a number of failures and a number of seconds", err) ||
             !number(st, 0, 0, 100000, n, err))
             return false;
         if (n != 0 && st.args.size() != 2) {
             err = "LOGINATTEMPTS takes a number of failures and a number of seconds, not 1 value";
             return false;
         }
         if (st.args.size() == 2 && !number(st, 1, 1, 86400, secs, err)) return false;
         s.login_attempts = static_cast<unsigned>(n);
         s.login_attempts_seconds = static_cast<unsigned>(secs);
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
    {"ACTIVEDATAPORT", side::server, "20 | EPHEMERAL", "20",
     "Source port of active-mode (PORT/EPRT) data connections: 20 (ftp-data, as static firewall rules expect; "
     "needs root or CAP_NET_BIND_SERVICE, else an ephemeral port is used) or any ephemeral port.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "20 or EPHEMERAL", err)) return false;
         int c = choice(st, 0, {"20", "EPHEMERAL"}, err);
         if (c < 0) return false;
         s.active_from_port_20 = c == 0;
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
    {"PASSIVEADDRESS", side::server, "address [FOR cidr]", "(the control connection's local address)",
     "Address written in PASV replies when the server is behind NAT; with FOR, only for clients in that subnet "
     "(list the specific subnets first). A host name is resolved again when its address changes.", true,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 3, "an address, optionally FOR and a subnet", err)) return false;
         passive_address pa{st.args[0], ""};
         if (st.args.size() == 2 || (st.args.size() == 3 && choice(st, 1, {"FOR"}, err) < 0)) {
             if (err.empty()) err = "PASSIVEADDRESS: expected 'address FOR subnet'";
             return false;
         }
         if (st.args.size() == 3) {
             pa.cidr = st.args[2];
             if (!is_subnet(pa.cidr)) {
                 err = "PASSIVEADDRESS: '" + pa.cidr + "' is not a subnet such as 192.168.0.0/16";
                 return false;
             }
         }
         if (ip_literal(pa.address) && pa.address.find(':') != std::string::npos) {
             err = "PASSIVEADDRESS: PASV replies carry IPv4 only; '" + pa.address + "' is IPv6 (EPSV needs no address)";
             return false;
         }
         s.passive_addresses.push_back(pa);
         return true;
     }},
    {"PROXYPROTOCOL", side::server, "FROM cidr", "(off)",
     "Behind a load balancer (HAProxy send-proxy or send-proxy-v2): connections to the control port, TLSPORT "
     "and the passive data ports must come from this subnet (repeat for more) and begin with a PROXY protocol "
     "v1 or v2 header; the client address it names is used for every address check, limit and log. Other "
     "connections are closed without a reply.", true,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 2, 2, "FROM and a subnet", err) || choice(st, 0, {"FROM"}, err) < 0) return false;
         if (!is_subnet(st.args[1])) {
             err = "PROXYPROTOCOL: '" + st.args[1] + "' is not a subnet such as 10.0.0.0/24";
             return false;
         }
         s.proxy_from.push_back(st.args[1]);
         return true;
     }},
    {"TLSRFCLEVEL", side::server, "DRAFT | RFC4217 | CCCNONOTIFY", "DRAFT",
     "DRAFT refuses CCC and AUTH after login; RFC4217 accepts CCC (close_notify exchanged) and ends TLS on REIN; "
     "CCCNONOTIFY accepts CCC without the close_notify exchange.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "DRAFT, RFC4217 or CCCNONOTIFY", err)) return false;
         int c = choice(st, 0, {"DRAFT", "RFC4217", "CCCNONOTIFY"}, err);
         if (c < 0) return false;
         s.rfc_level = c == 0 ? tls_rfc_level::draft : c == 1 ? tls_rfc_level::rfc4217 : tls_rfc_level::cccnonotify;
         return true;
     }},
    {"SECURE_LOGIN", side::server, "NO_CLIENT_AUTH | REQUIRED | VERIFY_USER", "NO_CLIENT_AUTH",
     "REQUIRED: TLS clients must present a certificate signed by a CA in CAFILE. VERIFY_USER: also mapped to the "
     "USER name by CERTMAP (and allowed on this port).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "NO_CLIENT_AUTH, REQUIRED or VERIFY_USER", err)) return false;
         int c = choice(st, 0, {"NO_CLIENT_AUTH", "REQUIRED", "VERIFY_USER"}, err);
         if (c < 0) return false;
         s.login = c == 0 ? secure_login::no_client_auth : c == 1 ? secure_login::required : secure_login::verify_user;
         return true;
     }},
    {"SECURE_PASSWORD", side::server, "REQUIRED | OPTIONAL", "REQUIRED",
     "OPTIONAL: a client certificate mapped to the USER name logs in without a password (reply 232).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "REQUIRED or OPTIONAL", err)) return false;
         int c = choice(st, 0, {"REQUIRED", "OPTIONAL"}, err);
         if (c < 0) return false;
         s.password_optional = c == 1;
         return true;
     }},
    {"SECURE_SESSION_REUSE", side::server, "ALLOWED | REQUIRED", "ALLOWED",
     "REQUIRED refuses a protected data connection that does not resume this session's TLS session "
     "(defence against data-connection stealing).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "ALLOWED or REQUIRED", err)) return false;
         int c = choice(st, 0, {"ALLOWED", "REQUIRED"}, err);
         if (c < 0) return false;
         s.session_reuse_required = c == 1;
         return true;
     }},
    {"TLSTIMEOUT", side::server, "seconds", "100",
     "Lifetime of a TLS session for resumption (0-86400); after it a full handshake is needed. Session-ticket "
     "keys change every 2 x TLSTIMEOUT seconds (the previous key's tickets resume for one more period).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         unsigned long v;
         if (!want_args(st, 1, 1, "a number of seconds", err) || !number(st, 0, 0, 86400, v, err)) return false;
         s.tls_timeout_seconds = static_cast<unsigned>(v);
         return true;
     }},
    {"TICKETKEYFILE", side::server, "file", "(none: keys made at random by each process)",
     "A file of at least 32 secret random bytes (openssl rand 48), readable by root only. Every ferryd with "
     "the same file derives the same session-ticket keys for each period of 2 x TLSTIMEOUT, so a client "
     "resumes its TLS session on any node behind a load balancer.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a file name", err)) return false;
         s.ticket_key_file = st.args[0];
         return true;
     }},
    {"CIPHERSUITE", side::server, "name", "(TLS 1.2: ECDHE with AES-GCM or ChaCha20-Poly1305 only; TLS 1.3: OpenSSL's, all AEAD)",
     "A cipher suite to allow, in order of preference; repeat for more. OpenSSL or IANA names.", true,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "one cipher suite name", err)) return false;
         s.ciphersuites.push_back({st.args[0], st.where()});
         return true;
     }},
    {"TLSMINVERSION", side::server, "TLSV1.3 | TLSV1.2 | TLSV1.1 | TLSV1.0", "TLSV1.2",
     "Oldest TLS version accepted. TLS 1.0 and 1.1 are off unless named here.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "TLSV1.3, TLSV1.2, TLSV1.1 or TLSV1.0", err)) return false;
         int c = choice(st, 0, {"TLSV1.0", "TLSV1.1", "TLSV1.2", "TLSV1.3"}, err);
         if (c < 0) return false;
         s.tls_min = static_cast<tls_protocol>(c);
         return true;
     }},
    {"CAFILE", side::server, "file", "(none)",
     "PEM bundle of the CAs trusted to sign client certificates (SECURE_LOGIN REQUIRED / VERIFY_USER).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a file name", err)) return false;
         s.cafile = st.args[0];
         return true;
     }},
    {"CRLFILE", side::server, "file", "(none)",
     "PEM file of certificate revocation lists, one for each CA in CAFILE that signs client certificates: a "
     "revoked (or CRL-less) client certificate fails the handshake. Needs SECURE_LOGIN REQUIRED or VERIFY_USER; "
     "an unreadable or invalid CRL stops the start; re-read on SIGHUP.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a file name", err)) return false;
         s.crlfile = st.args[0];
         return true;
     }},
    {"CERTMAP", side::server, "file", "(none)",
     "Client certificate to user map for SECURE_LOGIN VERIFY_USER: 'user sha256=FINGERPRINT [ports=21,990]' or "
     "'user subject=\"DN\" issuer=\"DN\" [ports=...]' (a subject counts only with the CA that signed it).",
     false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a file name", err)) return false;
         s.certmap = st.args[0];
         return true;
     }},
    {"TLSSERVERNAME", side::server, "name", "(any)",
     "If set, a client that sends a different TLS server name (SNI) is refused.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a host name", err)) return false;
         s.tls_server_name = st.args[0];
         return true;
     }},
    {"XFERLOG", side::server, "file | -", "(none)",
     "Transfer log in the standard xferlog format of wu-ftpd, vsftpd and ProFTPD: one line per completed (c) or "
     "incomplete (i) upload or download, spaces in file names written as '_'. '-' writes to standard output. "
     "Reopened on SIGHUP (logrotate).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a file name or -", err)) return false;
         s.xferlog = st.args[0];
         return true;
     }},
    {"JSONLOG", side::server, "file | -", "(none)",
     "Event log, one JSON object a line: session start and end, logins, transfers and every refusal with its "
     "reason, with the TLS version and cipher of control and data connections, data-connection resumption, CCC "
     "and the passive address advertised. '-' writes to standard output. Reopened on SIGHUP (logrotate).", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a file name or -", err)) return false;
         s.jsonlog = st.args[0];
         return true;
     }},
    {"METRICS", side::server, "address port", "(off)",
     "Prometheus metrics endpoint (GET /metrics, text format): sessions, logins, transfers and bytes, TLS "
     "handshakes, refused data connections, passive ports in use, throttled sessions. Off unless given; keep it "
     "on a loopback or management address: it has no authentication.", false,
     [](server_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 2, 2, "an address and a port", err)) return false;
         if (!ip_literal(st.args[0])) {
             err = "METRICS: '" + st.args[0] + "' is not a numeric IPv4 or IPv6 address";
             return false;
         }
         unsigned long port;
         if (!number(st, 1, 1, 65535, port, err)) return false;
         s.metrics = listen_address{st.args[0], static_cast<std::uint16_t>(port)};
         return true;
     }},
};


}  // namespace ferry::config
