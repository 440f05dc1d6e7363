// The client's statements (rows of the one schema table; see schema.hpp). The same rows serve the
// client configuration file, `ferry --set`, and LOCSITE at the prompt.
#include "config/detail/arguments.hpp"
#include "config/schema.hpp"

namespace ferry::config {
namespace {
using namespace detail;

bool boolean(const statement& st, bool& out, std::string& err) {
    if (!want_args(st, 1, 1, "TRUE or FALSE", err)) return false;
    int c = choice(st, 0, {"TRUE", "FALSE"}, err);
    if (c < 0) return false;
    out = c == 0;
    return true;
}

bool seconds(const statement& st, unsigned long lo, unsigned long hi, unsigned& out, std::string& err) {
    unsigned long v;
    if (!want_args(st, 1, 1, "a number of seconds", err) || !number(st, 0, lo, hi, v, err)) return false;
    out = static_cast<unsigned>(v);
    return true;
}

bool file_name(const statement& st, std::string& out, std::string& err) {
    if (!want_args(st, 1, 1, "a file name", err)) return false;
    out = st.args[0];
    return true;
}

bool version(const statement& st, bool allow_any, tls_version& out, std::string& err) {
    if (!want_args(st, 1, 1, allow_any ? "TLSV1.2, TLSV1.3 or ANY" : "TLSV1.2 or TLSV1.3", err)) return false;
    int c = allow_any ? choice(st, 0, {"TLSV1.2", "TLSV1.3", "ANY"}, err) : choice(st, 0, {"TLSV1.2", "TLSV1.3"}, err);
    if (c < 0) return false;
    out = c == 0 ? tls_version::tls1_2 : c == 1 ? tls_version::tls1_3 : tls_version::any;
    return true;
}

}  // namespace

extern const std::vector<schema_entry> client_statements;
const std::vector<schema_entry> client_statements = {
    {"FWFRIENDLY", side::client, "TRUE | FALSE", "TRUE",
     "TRUE: passive data connections (PASV/EPSV), opened by the client: the firewall-friendly mode. "
     "FALSE (NOFWFRIENDLY): active (PORT/EPRT), the server connects back. z/OS defaults to FALSE.",
     false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return boolean(st, s.fwfriendly, err); }},
    {"EPSV4", side::client, "TRUE | FALSE", "FALSE",
     "TRUE: use EPSV (passive) and EPRT (active) over IPv4 too; the data connection then goes to the "
     "control connection's address, which NAT firewalls need. IPv6 always uses EPSV/EPRT.",
     false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return boolean(st, s.epsv4, err); }},
    {"PASSIVEIGNOREADDR", side::client, "TRUE | FALSE", "FALSE",
     "TRUE: ignore the address in PASV replies and connect to the control connection's address "
     "(EPSV for servers without EPSV). Even when FALSE, a PASV address other than the server's is "
     "reported and replaced by the server's.",
     false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return boolean(st, s.passive_ignore_addr, err); }},
    {"TLSRFCLEVEL", side::client, "DRAFT | RFC4217 | CCCNONOTIFY", "DRAFT",
     "DRAFT: no CCC. RFC4217: the ccc subcommand clears the control connection after login, both sides "
     "sending TLS close_notify. CCCNONOTIFY: the same without close_notify. Match the server's value.",
     false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "DRAFT, RFC4217 or CCCNONOTIFY", err)) return false;
         int c = choice(st, 0, {"DRAFT", "RFC4217", "CCCNONOTIFY"}, err);
         if (c < 0) return false;
         s.tls_rfc = c == 0 ? tls_rfc_level::draft : c == 1 ? tls_rfc_level::rfc4217 : tls_rfc_level::cccnonotify;
         return true;
     }},
    {"SECUREIMPLICITZOS", side::client, "TRUE | FALSE", "FALSE",
     "Implicit TLS (ftps://): TRUE reads the server's 220 greeting in clear and then starts TLS (the z/OS "
     "server's default); FALSE starts TLS at connect, as every other server expects. z/OS defaults to TRUE.",
     false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return boolean(st, s.secure_implicit_zos, err); }},
    {"FTPKEEPALIVE", side::client, "seconds", "0 (off)",
     "TCP keepalive on the control connection with this idle time, and a NOOP on it when a transfer has "
     "kept it idle that long, so that firewalls do not drop it during long transfers. 0 disables both.",
     false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) {
         return seconds(st, 0, 86400, s.keepalive_seconds, err);
     }},
    {"SECURE_FTP", side::client, "REQUIRED | ALLOWED", "REQUIRED",
     "REQUIRED: the session must use TLS (AUTH TLS or implicit). ALLOWED: if the server refuses AUTH TLS, "
     "continue in plain text (password and data readable on the network); same as --allow-plain.",
     false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "REQUIRED or ALLOWED", err)) return false;
         int c = choice(st, 0, {"REQUIRED", "ALLOWED"}, err);
         if (c < 0) return false;
         s.require_tls = c == 0;
         return true;
     }},
    {"SECURE_DATACONN", side::client, "PRIVATE | CLEAR | NEVER", "PRIVATE",
     "Data protection asked for after login on a TLS session: PRIVATE sends PROT P (data encrypted), "
     "CLEAR and NEVER send PROT C (data in clear). The prot subcommand changes it for the session.",
     false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "PRIVATE, CLEAR or NEVER", err)) return false;
         int c = choice(st, 0, {"PRIVATE", "CLEAR", "NEVER"}, err);
         if (c < 0) return false;
         s.dataconn = c == 0 ? data_protection::private_ : data_protection::clear;
         return true;
     }},
    {"TLSMINVERSION", side::client, "TLSV1.2 | TLSV1.3", "TLSV1.2",
     "Lowest TLS version accepted.", false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return version(st, false, s.tls_min, err); }},
    {"TLSMAXVERSION", side::client, "TLSV1.2 | TLSV1.3 | ANY", "ANY",
     "Highest TLS version offered (TLSV1.2 to work around servers with broken TLS 1.3).", false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return version(st, true, s.tls_max, err); }},
    {"CIPHERSUITE", side::client, "name", "(OpenSSL defaults)",
     "An allowed cipher in OpenSSL naming (ECDHE-RSA-AES128-GCM-SHA256, or TLS_AES_128_GCM_SHA256 for "
     "TLS 1.3). Repeat for more; the first statement replaces the defaults.",
     true, nullptr,
     [](client_settings& s, const statement& st, std::string& err) {
         if (!want_args(st, 1, 1, "a cipher name", err)) return false;
         if (st.args[0].find_first_of(":, ") != std::string::npos) {
             err = "CIPHERSUITE takes one cipher name per statement; repeat the statement for more";
             return false;
         }
         s.ciphers.push_back(st.args[0]);
         return true;
     }},
    {"CAFILE", side::client, "file", "(system CA store)",
     "PEM file of CA certificates that verify the server, instead of the system store (--ca).", false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return file_name(st, s.ca_file, err); }},
    {"CERTFILE", side::client, "file", "(none)",
     "PEM client certificate chain, for servers that require client certificates (--cert).", false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return file_name(st, s.cert_file, err); }},
    {"KEYFILE", side::client, "file", "(CERTFILE)",
     "PEM private key of CERTFILE when it is not in CERTFILE itself (--key).", false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) { return file_name(st, s.key_file, err); }},
    {"MYOPENTIME", side::client, "seconds", "30",
     "Time allowed to open the control connection (TCP connect, TLS handshake and greeting).", false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) {
         return seconds(st, 1, 3600, s.connect_timeout, err);
     }},
    {"INACTTIME", side::client, "seconds", "120",
     "Time to wait for a reply from the server before giving up on the session.", false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) {
         return seconds(st, 1, 86400, s.reply_timeout, err);
     }},
    {"DATACTTIME", side::client, "seconds", "120",
     "Time allowed to open a data connection, and the longest a transfer may stall.", false, nullptr,
     [](client_settings& s, const statement& st, std::string& err) {
         return seconds(st, 1, 86400, s.data_timeout, err);
     }},
};

}  // namespace ferry::config
