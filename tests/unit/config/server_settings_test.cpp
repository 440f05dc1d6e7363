// Server settings: every statement of server_statements.cpp (good and wrong values with the exact
// "file:line: ..." message), the combination checks of settings.cpp, defaults, loading a file, and
// the --help-config text.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "config/schema.hpp"
#include "config/settings.hpp"

using namespace ferry::config;

namespace {

constexpr const char* file = "ferryd.conf";
// Enough for every TLS combination check to pass.
constexpr const char* tls = "KEYRING /etc/ferry/server.pem\nEXTENSIONS AUTH_TLS\n";

struct result {
    bool ok = false;
    server_settings s;
    std::string error;
};

result parse(std::string_view text) {
    result r;
    r.ok = parse_server_settings(text, file, r.s, r.error);
    if (r.ok) {
        EXPECT_EQ(r.error, "");
    }
    return r;
}

server_settings good(std::string_view text) {
    auto r = parse(text);
    EXPECT_TRUE(r.ok) << "text: " << text << "\nerror: " << r.error;
    return r.s;
}

std::string bad(std::string_view text) {
    auto r = parse(text);
    EXPECT_FALSE(r.ok) << "text: " << text;
    return r.error;
}

// The statements the server must know (server_statements.cpp), with a valid value each.
struct sample {
    const char* keyword;
    const char* line;
    bool repeatable;
};
const sample samples[] = {
    {"LISTEN", "LISTEN 127.0.0.1 2121", true},
    {"TLSPORT", "TLSPORT 990", false},
    {"KEYRING", "KEYRING /etc/ferry/server.pem", false},
    {"USERS", "USERS /etc/ferry/users", false},
    {"PASSIVEDATAPORTS", "PASSIVEDATAPORTS 50000 50100", false},
    {"EXTENSIONS", "EXTENSIONS AUTH_TLS", true},
    {"SECURE_FTP", "SECURE_FTP REQUIRED", false},
    {"SECURE_DATACONN", "SECURE_DATACONN PRIVATE", false},
    {"INACTIVE", "INACTIVE 600", false},
    {"DATACTTIME", "DATACTTIME 30", false},
    {"SHUTDOWNGRACE", "SHUTDOWNGRACE 10", false},
    {"UPLOADCLOSENOTIFY", "UPLOADCLOSENOTIFY OPTIONAL", false},
    {"UMASK", "UMASK 077", false},
    {"PASSIVEDATACONN", "PASSIVEDATACONN REDIRECT", false},
    {"PORTCOMMANDIPADDR", "PORTCOMMANDIPADDR UNRESTRICTED", false},
    {"PORTCOMMANDPORT", "PORTCOMMANDPORT UNRESTRICTED", false},
    {"FTPKEEPALIVE", "FTPKEEPALIVE 120", false},
    {"MAXSESSIONS", "MAXSESSIONS 500", false},
    {"MAXSESSIONSPERHOST", "MAXSESSIONSPERHOST 10", false},
    {"MAXSESSIONSPERUSER", "MAXSESSIONSPERUSER 4", false},
    {"LOGINTIMEOUT", "LOGINTIMEOUT 20", false},
    {"LOGINATTEMPTS", "LOGINATTEMPTS 5 60", false},
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Defaults

TEST(server_settings_defaults, empty_file_gives_the_documented_defaults) {
    auto s = good("");
    EXPECT_TRUE(s.listen.empty());  // means 0.0.0.0 port 21
    EXPECT_EQ(s.tls_port, 990);
    EXPECT_FALSE(s.tls_port_set);
    EXPECT_EQ(s.keyring, "");
    EXPECT_FALSE(s.tls_configured());
    EXPECT_EQ(s.users, "");
    EXPECT_EQ(s.passive_low, 0);
    EXPECT_EQ(s.passive_high, 0);
    EXPECT_FALSE(s.auth_tls);
    EXPECT_EQ(s.secure, secure_ftp::allowed);
    EXPECT_EQ(s.dataconn, secure_dataconn::clear);
    EXPECT_EQ(s.inactive_seconds, 300u);
    EXPECT_EQ(s.data_timeout_seconds, 60u);
    EXPECT_EQ(s.passive_dataconn, redirect_policy::noredirect);
    EXPECT_EQ(s.port_ipaddr, redirect_policy::noredirect);
    EXPECT_FALSE(s.port_low_ports);
    EXPECT_EQ(s.keepalive_seconds, 0u);
}

TEST(server_settings_defaults, comments_only_file_gives_the_defaults) {
    auto s = good("; nothing here\n# nor here\n\n");
    EXPECT_TRUE(s.listen.empty());
    EXPECT_EQ(s.tls_port, 990);
    EXPECT_EQ(s.secure, secure_ftp::allowed);
    EXPECT_EQ(s.dataconn, secure_dataconn::clear);
    EXPECT_EQ(s.inactive_seconds, 300u);
}

TEST(server_settings_defaults, absent_statements_keep_defaults_when_others_are_given) {
    auto s = good("USERS /etc/ferry/users\nLISTEN 127.0.0.1 2121\n");
    EXPECT_EQ(s.users, "/etc/ferry/users");
    EXPECT_EQ(s.tls_port, 990);
    EXPECT_FALSE(s.tls_port_set);
    EXPECT_EQ(s.secure, secure_ftp::allowed);
    EXPECT_EQ(s.dataconn, secure_dataconn::clear);
    EXPECT_EQ(s.inactive_seconds, 300u);
    EXPECT_EQ(s.data_timeout_seconds, 60u);
    EXPECT_EQ(s.passive_low, 0);
    EXPECT_EQ(s.passive_high, 0);
}

// The default column of the schema (shown by --help-config) agrees with server_settings{}.
TEST(server_settings_defaults, schema_default_column_matches_the_struct) {
    const server_settings d;
    auto def = [](std::string_view kw) {
        const schema_entry* e = find_entry(kw, side::server);
        EXPECT_NE(e, nullptr) << kw;
        return e ? std::string(e->default_value) : std::string();
    };
    EXPECT_EQ(def("TLSPORT"), std::to_string(d.tls_port));
    EXPECT_EQ(def("INACTIVE"), std::to_string(d.inactive_seconds));
    EXPECT_EQ(def("DATACTTIME"), std::to_string(d.data_timeout_seconds));
    EXPECT_EQ(def("SHUTDOWNGRACE"), std::to_string(d.shutdown_grace_seconds));
    EXPECT_EQ(def("SECURE_FTP"), "ALLOWED");
    EXPECT_EQ(d.secure, secure_ftp::allowed);
    EXPECT_EQ(def("SECURE_DATACONN"), "CLEAR");
    EXPECT_EQ(d.dataconn, secure_dataconn::clear);
    EXPECT_EQ(def("PASSIVEDATACONN"), "NOREDIRECT");
    EXPECT_EQ(def("PORTCOMMANDIPADDR"), "NOREDIRECT");
    EXPECT_EQ(def("PORTCOMMANDPORT"), "NOLOWPORTS");
    EXPECT_FALSE(d.port_low_ports);
    EXPECT_EQ(def("LISTEN"), "0.0.0.0 21");
    // Writing the default explicitly gives the same settings as leaving it out.
    auto s = good("SECURE_FTP ALLOWED\nSECURE_DATACONN CLEAR\nINACTIVE 300\nDATACTTIME 60\n"
                  "PASSIVEDATACONN NOREDIRECT\nPORTCOMMANDIPADDR NOREDIRECT\nPORTCOMMANDPORT NOLOWPORTS\n");
    EXPECT_EQ(s.secure, d.secure);
    EXPECT_EQ(s.dataconn, d.dataconn);
    EXPECT_EQ(s.inactive_seconds, d.inactive_seconds);
    EXPECT_EQ(s.data_timeout_seconds, d.data_timeout_seconds);
    EXPECT_EQ(s.passive_dataconn, d.passive_dataconn);
    EXPECT_EQ(s.port_ipaddr, d.port_ipaddr);
    EXPECT_EQ(s.port_low_ports, d.port_low_ports);
}

// ---------------------------------------------------------------------------------------------
// General errors

TEST(server_settings_errors, unknown_statement) {
    EXPECT_EQ(bad("TLSPORT 990\nFROBNICATE yes\n"),
              "ferryd.conf:2: unknown statement 'FROBNICATE' (ferryd --help-config lists them)");
    // Reported upper-cased, as the lexer normalised it.
    EXPECT_EQ(bad("\n\nlistenn 0.0.0.0 21\n"),
              "ferryd.conf:3: unknown statement 'LISTENN' (ferryd --help-config lists them)");
}

TEST(server_settings_errors, client_only_statement_is_unknown_to_the_server) {
    // MYOPENTIME exists only on the client side (or not at all): the server must not accept it.
    ASSERT_EQ(find_entry("MYOPENTIME", side::server), nullptr);
    EXPECT_EQ(bad("MYOPENTIME 30\n"),
              "ferryd.conf:1: unknown statement 'MYOPENTIME' (ferryd --help-config lists them)");
}

TEST(server_settings_errors, lexer_error_is_passed_through) {
    EXPECT_EQ(bad("TLSPORT 0\nKEYRING \"/etc/ferry/server.pem\n"), "ferryd.conf:2: unterminated quoted value");
}

TEST(server_settings_errors, first_error_wins) {
    EXPECT_EQ(bad("INACTIVE 0\nFROBNICATE\n"), "ferryd.conf:1: INACTIVE: '0' is not a number from 1 to 86400");
}

TEST(server_settings_errors, every_non_repeatable_statement_twice_is_refused) {
    for (const auto& smp : samples) {
        std::string text = std::string(tls) + smp.line + "\n; between\n" + smp.line + "\n";
        if (std::string_view(smp.keyword) == "KEYRING") text = std::string(smp.line) + "\n" + smp.line + "\n";
        if (std::string_view(smp.keyword) == "EXTENSIONS") text = "KEYRING k.pem\nEXTENSIONS AUTH_TLS\nEXTENSIONS AUTH_TLS\n";
        if (std::string_view(smp.keyword) == "LISTEN") text = "LISTEN 127.0.0.1 2121\nLISTEN ::1 2121\n";
        auto r = parse(text);
        if (smp.repeatable) {
            EXPECT_TRUE(r.ok) << smp.keyword << ": " << r.error;
        } else {
            // The second occurrence is the one reported.
            int second_line = std::string_view(smp.keyword) == "KEYRING" ? 2 : 5;
            EXPECT_FALSE(r.ok) << smp.keyword;
            EXPECT_EQ(r.error, std::string(file) + ":" + std::to_string(second_line) + ": " + smp.keyword +
                                   " is given twice; it may appear once");
        }
    }
}

TEST(server_settings_errors, repeatability_flag_of_the_schema) {
    for (const auto& smp : samples) {
        const schema_entry* e = find_entry(smp.keyword, side::server);
        ASSERT_NE(e, nullptr) << smp.keyword;
        EXPECT_EQ(e->repeatable, smp.repeatable) << smp.keyword;
    }
}

TEST(server_settings_errors, twice_with_different_case_is_still_twice) {
    EXPECT_EQ(bad("inactive 60\nINACTIVE 70\n"), "ferryd.conf:2: INACTIVE is given twice; it may appear once");
}

// ---------------------------------------------------------------------------------------------
// LISTEN

TEST(listen, numeric_ipv4_and_ipv6) {
    auto s = good("LISTEN 0.0.0.0 21\nLISTEN :: 2121\nLISTEN 192.0.2.10 0\nLISTEN 2001:db8::1 65535\nLISTEN ::1 21\n");
    ASSERT_EQ(s.listen.size(), 5u);
    EXPECT_EQ(s.listen[0].host, "0.0.0.0");
    EXPECT_EQ(s.listen[0].port, 21);
    EXPECT_EQ(s.listen[1].host, "::");
    EXPECT_EQ(s.listen[1].port, 2121);
    EXPECT_EQ(s.listen[2].host, "192.0.2.10");
    EXPECT_EQ(s.listen[2].port, 0);
    EXPECT_EQ(s.listen[3].host, "2001:db8::1");
    EXPECT_EQ(s.listen[3].port, 65535);
    EXPECT_EQ(s.listen[4].host, "::1");
    EXPECT_EQ(s.listen[4].port, 21);
}

TEST(listen, host_name_is_refused) {
    EXPECT_EQ(bad("LISTEN localhost 21\n"), "ferryd.conf:1: LISTEN: 'localhost' is not a numeric IPv4 or IPv6 address");
    EXPECT_EQ(bad("; c\nLISTEN ftp.example.com 21\n"),
              "ferryd.conf:2: LISTEN: 'ftp.example.com' is not a numeric IPv4 or IPv6 address");
    EXPECT_EQ(bad("LISTEN \"\" 21\n"), "ferryd.conf:1: LISTEN: '' is not a numeric IPv4 or IPv6 address");
}

TEST(listen, wrong_number_of_values) {
    EXPECT_EQ(bad("LISTEN 0.0.0.0\n"), "ferryd.conf:1: LISTEN takes an address and a port, not 1 value");
    EXPECT_EQ(bad("LISTEN\n"), "ferryd.conf:1: LISTEN takes an address and a port, not 0 values");
    EXPECT_EQ(bad("LISTEN 0.0.0.0 21 22\n"), "ferryd.conf:1: LISTEN takes an address and a port, not 3 values");
}

TEST(listen, port_out_of_range_or_not_a_number) {
    EXPECT_EQ(bad("LISTEN 0.0.0.0 65536\n"), "ferryd.conf:1: LISTEN: '65536' is not a number from 0 to 65535");
    EXPECT_EQ(bad("LISTEN 0.0.0.0 -1\n"), "ferryd.conf:1: LISTEN: '-1' is not a number from 0 to 65535");
    EXPECT_EQ(bad("LISTEN 0.0.0.0 21x\n"), "ferryd.conf:1: LISTEN: '21x' is not a number from 0 to 65535");
    EXPECT_EQ(bad("LISTEN 0.0.0.0 ftp\n"), "ferryd.conf:1: LISTEN: 'ftp' is not a number from 0 to 65535");
    EXPECT_EQ(bad("LISTEN 0.0.0.0 99999999999999999999999\n"),
              "ferryd.conf:1: LISTEN: '99999999999999999999999' is not a number from 0 to 65535");
}

TEST(listen, same_address_and_port_twice_is_refused) {
    auto e = bad("LISTEN 127.0.0.1 2121\nLISTEN 127.0.0.1 2121\n");
    // The message names the duplicated listener; see duplicate_reported_at_the_repeated_line
    // for the line it is reported against.
    EXPECT_EQ(e.rfind("ferryd.conf:", 0), 0u) << e;
    EXPECT_NE(e.find(": LISTEN 127.0.0.1 2121 is given twice"), std::string::npos) << e;
    // Same address, other port, and other address, same port, are fine.
    auto s = good("LISTEN 127.0.0.1 2121\nLISTEN 127.0.0.1 2122\nLISTEN ::1 2121\n");
    EXPECT_EQ(s.listen.size(), 3u);
}

// A duplicated LISTEN is reported at the line that repeats it, like other "given twice" errors.
TEST(listen, duplicate_reported_at_the_repeated_line) {
    EXPECT_EQ(bad("LISTEN ::1 21\nLISTEN 127.0.0.1 2121\nLISTEN 127.0.0.1 2121\n"),
              "ferryd.conf:3: LISTEN 127.0.0.1 2121 is given twice");
}

// ---------------------------------------------------------------------------------------------
// TLSPORT

TEST(tlsport, values_with_keyring) {
    for (int p : {990, 0, 1, 65535}) {
        auto s = good("KEYRING k.pem\nTLSPORT " + std::to_string(p) + "\n");
        EXPECT_EQ(s.tls_port, p);
        EXPECT_TRUE(s.tls_port_set);
    }
}

TEST(tlsport, zero_needs_no_keyring) {
    auto s = good("TLSPORT 0\n");
    EXPECT_EQ(s.tls_port, 0);
    EXPECT_TRUE(s.tls_port_set);
}

TEST(tlsport, nonzero_without_keyring_is_refused) {
    EXPECT_EQ(bad("INACTIVE 60\nTLSPORT 990\n"),
              "ferryd.conf:2: TLSPORT needs a KEYRING statement (certificate and key), or use TLSPORT 0");
}

TEST(tlsport, wrong_values) {
    EXPECT_EQ(bad("TLSPORT 65536\n"), "ferryd.conf:1: TLSPORT: '65536' is not a number from 0 to 65535");
    EXPECT_EQ(bad("TLSPORT implicit\n"), "ferryd.conf:1: TLSPORT: 'implicit' is not a number from 0 to 65535");
    EXPECT_EQ(bad("TLSPORT\n"), "ferryd.conf:1: TLSPORT takes a port, not 0 values");
    EXPECT_EQ(bad("TLSPORT 990 991\n"), "ferryd.conf:1: TLSPORT takes a port, not 2 values");
}

// ---------------------------------------------------------------------------------------------
// KEYRING, USERS

TEST(keyring, file_name_kept_as_written) {
    auto s = good("KEYRING \"/etc/ferry/my server.pem\"\n");
    EXPECT_EQ(s.keyring, "/etc/ferry/my server.pem");
    EXPECT_TRUE(s.tls_configured());
    // A keyring alone enables implicit TLS on the default TLSPORT.
    EXPECT_EQ(s.tls_port, 990);
    EXPECT_FALSE(s.auth_tls);
}

TEST(keyring, wrong_number_of_values) {
    EXPECT_EQ(bad("KEYRING\n"), "ferryd.conf:1: KEYRING takes a file name, not 0 values");
    EXPECT_EQ(bad("KEYRING /etc/my server.pem\n"), "ferryd.conf:1: KEYRING takes a file name, not 2 values");
}

TEST(users, file_name_kept_as_written) {
    auto s = good("USERS /etc/ferry/Users.txt\n");
    EXPECT_EQ(s.users, "/etc/ferry/Users.txt");
}

TEST(users, wrong_number_of_values) {
    EXPECT_EQ(bad("USERS\n"), "ferryd.conf:1: USERS takes a file name, not 0 values");
    EXPECT_EQ(bad("USERS a b c\n"), "ferryd.conf:1: USERS takes a file name, not 3 values");
}

// ---------------------------------------------------------------------------------------------
// PASSIVEDATAPORTS

TEST(passivedataports, range) {
    auto s = good("PASSIVEDATAPORTS 50000 50100\n");
    EXPECT_EQ(s.passive_low, 50000);
    EXPECT_EQ(s.passive_high, 50100);
    s = good("PASSIVEDATAPORTS 1024 1024\n");
    EXPECT_EQ(s.passive_low, 1024);
    EXPECT_EQ(s.passive_high, 1024);
    s = good("PASSIVEDATAPORTS 1024 65535\n");
    EXPECT_EQ(s.passive_low, 1024);
    EXPECT_EQ(s.passive_high, 65535);
}

TEST(passivedataports, low_above_high_is_refused) {
    EXPECT_EQ(bad("\nPASSIVEDATAPORTS 50100 50000\n"),
              "ferryd.conf:2: PASSIVEDATAPORTS: the low port 50100 is above the high port 50000");
}

TEST(passivedataports, ports_out_of_range) {
    EXPECT_EQ(bad("PASSIVEDATAPORTS 1023 2000\n"),
              "ferryd.conf:1: PASSIVEDATAPORTS: '1023' is not a number from 1024 to 65535");
    EXPECT_EQ(bad("PASSIVEDATAPORTS 0 0\n"), "ferryd.conf:1: PASSIVEDATAPORTS: '0' is not a number from 1024 to 65535");
    EXPECT_EQ(bad("PASSIVEDATAPORTS 2000 65536\n"),
              "ferryd.conf:1: PASSIVEDATAPORTS: '65536' is not a number from 1024 to 65535");
    EXPECT_EQ(bad("PASSIVEDATAPORTS 2000 high\n"),
              "ferryd.conf:1: PASSIVEDATAPORTS: 'high' is not a number from 1024 to 65535");
}

TEST(passivedataports, wrong_number_of_values) {
    EXPECT_EQ(bad("PASSIVEDATAPORTS 50000\n"), "ferryd.conf:1: PASSIVEDATAPORTS takes a low and a high port, not 1 value");
    EXPECT_EQ(bad("PASSIVEDATAPORTS 50000-50100 x y\n"),
              "ferryd.conf:1: PASSIVEDATAPORTS takes a low and a high port, not 3 values");
}

// ---------------------------------------------------------------------------------------------
// EXTENSIONS

TEST(extensions, auth_tls_with_keyring) {
    auto s = good("KEYRING k.pem\nEXTENSIONS AUTH_TLS\n");
    EXPECT_TRUE(s.auth_tls);
    s = good("KEYRING k.pem\nextensions auth_tls\n");  // values are case-insensitive
    EXPECT_TRUE(s.auth_tls);
}

TEST(extensions, auth_tls_without_keyring_is_refused) {
    EXPECT_EQ(bad("TLSPORT 0\nEXTENSIONS AUTH_TLS\n"),
              "ferryd.conf:2: EXTENSIONS AUTH_TLS needs a KEYRING statement (certificate and key)");
}

TEST(extensions, wrong_values) {
    EXPECT_EQ(bad("EXTENSIONS AUTH_SSL\n"), "ferryd.conf:1: EXTENSIONS: 'AUTH_SSL' is not allowed; use AUTH_TLS");
    EXPECT_EQ(bad("EXTENSIONS\n"), "ferryd.conf:1: EXTENSIONS takes AUTH_TLS, not 0 values");
    EXPECT_EQ(bad("EXTENSIONS AUTH_TLS UTF8\n"), "ferryd.conf:1: EXTENSIONS takes AUTH_TLS, not 2 values");
}

// ---------------------------------------------------------------------------------------------
// SECURE_FTP

TEST(secure_ftp, allowed_and_required) {
    EXPECT_EQ(good("SECURE_FTP ALLOWED\n").secure, secure_ftp::allowed);
    EXPECT_EQ(good(std::string(tls) + "SECURE_FTP REQUIRED\n").secure, secure_ftp::required);
    EXPECT_EQ(good(std::string(tls) + "secure_ftp required\n").secure, secure_ftp::required);
}

TEST(secure_ftp, required_with_keyring_and_implicit_port_only) {
    // KEYRING and the default TLSPORT 990: TLS exists (implicit), so REQUIRED is satisfiable.
    EXPECT_EQ(good("KEYRING k.pem\nSECURE_FTP REQUIRED\n").secure, secure_ftp::required);
    EXPECT_EQ(good("KEYRING k.pem\nTLSPORT 9990\nSECURE_FTP REQUIRED\n").secure, secure_ftp::required);
}

TEST(secure_ftp, required_without_tls_is_refused) {
    const std::string msg =
        ": SECURE_FTP REQUIRED needs TLS: add KEYRING and EXTENSIONS AUTH_TLS (or a TLSPORT)";
    EXPECT_EQ(bad("SECURE_FTP REQUIRED\n"), "ferryd.conf:1" + msg);
    EXPECT_EQ(bad("TLSPORT 0\n\nSECURE_FTP REQUIRED\n"), "ferryd.conf:3" + msg);
    // A keyring but no way to start TLS: no AUTH_TLS and the implicit port disabled.
    EXPECT_EQ(bad("KEYRING k.pem\nTLSPORT 0\nSECURE_FTP REQUIRED\n"), "ferryd.conf:3" + msg);
}

TEST(secure_ftp, wrong_values) {
    EXPECT_EQ(bad("SECURE_FTP maybe\n"), "ferryd.conf:1: SECURE_FTP: 'maybe' is not allowed; use ALLOWED or REQUIRED");
    EXPECT_EQ(bad("SECURE_FTP\n"), "ferryd.conf:1: SECURE_FTP takes ALLOWED or REQUIRED, not 0 values");
    EXPECT_EQ(bad("SECURE_FTP ALLOWED REQUIRED\n"), "ferryd.conf:1: SECURE_FTP takes ALLOWED or REQUIRED, not 2 values");
}

// ---------------------------------------------------------------------------------------------
// SECURE_DATACONN

TEST(secure_dataconn, never_clear_private) {
    EXPECT_EQ(good("SECURE_DATACONN NEVER\n").dataconn, secure_dataconn::never);
    EXPECT_EQ(good("SECURE_DATACONN CLEAR\n").dataconn, secure_dataconn::clear);
    EXPECT_EQ(good(std::string(tls) + "SECURE_DATACONN PRIVATE\n").dataconn, secure_dataconn::private_);
    EXPECT_EQ(good("KEYRING k.pem\nSECURE_DATACONN private\n").dataconn, secure_dataconn::private_);
}

TEST(secure_dataconn, private_without_tls_is_refused) {
    const std::string msg =
        ": SECURE_DATACONN PRIVATE needs TLS: add KEYRING and EXTENSIONS AUTH_TLS (or a TLSPORT)";
    EXPECT_EQ(bad("USERS u\nSECURE_DATACONN PRIVATE\n"), "ferryd.conf:2" + msg);
    EXPECT_EQ(bad("KEYRING k.pem\nTLSPORT 0\nSECURE_DATACONN PRIVATE\n"), "ferryd.conf:3" + msg);
}

TEST(secure_dataconn, wrong_values) {
    EXPECT_EQ(bad("SECURE_DATACONN SAFE\n"),
              "ferryd.conf:1: SECURE_DATACONN: 'SAFE' is not allowed; use NEVER or CLEAR or PRIVATE");
    EXPECT_EQ(bad("SECURE_DATACONN\n"), "ferryd.conf:1: SECURE_DATACONN takes NEVER, CLEAR or PRIVATE, not 0 values");
}

// ---------------------------------------------------------------------------------------------
// INACTIVE, DATACTTIME, FTPKEEPALIVE

TEST(inactive, range) {
    EXPECT_EQ(good("INACTIVE 1\n").inactive_seconds, 1u);
    EXPECT_EQ(good("INACTIVE 86400\n").inactive_seconds, 86400u);
    EXPECT_EQ(bad("INACTIVE 0\n"), "ferryd.conf:1: INACTIVE: '0' is not a number from 1 to 86400");
    EXPECT_EQ(bad("INACTIVE 86401\n"), "ferryd.conf:1: INACTIVE: '86401' is not a number from 1 to 86400");
    EXPECT_EQ(bad("INACTIVE 5m\n"), "ferryd.conf:1: INACTIVE: '5m' is not a number from 1 to 86400");
    EXPECT_EQ(bad("INACTIVE\n"), "ferryd.conf:1: INACTIVE takes a number of seconds, not 0 values");
}

TEST(datacttime, range) {
    EXPECT_EQ(good("DATACTTIME 1\n").data_timeout_seconds, 1u);
    EXPECT_EQ(good("DATACTTIME 86400\n").data_timeout_seconds, 86400u);
    EXPECT_EQ(bad("DATACTTIME 0\n"), "ferryd.conf:1: DATACTTIME: '0' is not a number from 1 to 86400");
    EXPECT_EQ(bad("DATACTTIME +5\n"), "ferryd.conf:1: DATACTTIME: '+5' is not a number from 1 to 86400");
    EXPECT_EQ(bad("DATACTTIME 1 2\n"), "ferryd.conf:1: DATACTTIME takes a number of seconds, not 2 values");
}

// SHUTDOWNGRACE: 0 (stop at once) is allowed, unlike the other time limits.
TEST(shutdowngrace, range) {
    EXPECT_EQ(server_settings{}.shutdown_grace_seconds, 30u);
    EXPECT_EQ(good("SHUTDOWNGRACE 0\n").shutdown_grace_seconds, 0u);
    EXPECT_EQ(good("SHUTDOWNGRACE 86400\n").shutdown_grace_seconds, 86400u);
    EXPECT_EQ(bad("SHUTDOWNGRACE 86401\n"), "ferryd.conf:1: SHUTDOWNGRACE: '86401' is not a number from 0 to 86400");
    EXPECT_EQ(bad("SHUTDOWNGRACE\n"), "ferryd.conf:1: SHUTDOWNGRACE takes a number of seconds, not 0 values");
}

TEST(uploadclosenotify, values) {
    EXPECT_TRUE(server_settings{}.upload_close_notify_required);
    EXPECT_EQ(find_entry("UPLOADCLOSENOTIFY", side::server)->default_value, "REQUIRED");
    EXPECT_TRUE(good("UPLOADCLOSENOTIFY REQUIRED\n").upload_close_notify_required);
    EXPECT_FALSE(good("UPLOADCLOSENOTIFY optional\n").upload_close_notify_required);
    EXPECT_EQ(bad("UPLOADCLOSENOTIFY NO\n"),
              "ferryd.conf:1: UPLOADCLOSENOTIFY: 'NO' is not allowed; use REQUIRED or OPTIONAL");
    EXPECT_EQ(bad("UPLOADCLOSENOTIFY\n"), "ferryd.conf:1: UPLOADCLOSENOTIFY takes REQUIRED or OPTIONAL, not 0 values");
}

TEST(umask, values) {
    EXPECT_EQ(server_settings{}.umask, 022u);
    EXPECT_EQ(find_entry("UMASK", side::server)->default_value, "022");
    EXPECT_EQ(good("UMASK 077\n").umask, 077u);
    EXPECT_EQ(good("UMASK 0\n").umask, 0u);
    EXPECT_EQ(good("UMASK 0027\n").umask, 027u);
    EXPECT_EQ(bad("UMASK 088\n"), "ferryd.conf:1: UMASK: '088' is not an octal mask from 000 to 777 such as 022");
    EXPECT_EQ(bad("UMASK 1777\n"), "ferryd.conf:1: UMASK: '1777' is not an octal mask from 000 to 777 such as 022");
}

TEST(ftpkeepalive, range) {
    EXPECT_EQ(good("FTPKEEPALIVE 0\n").keepalive_seconds, 0u);
    EXPECT_EQ(good("FTPKEEPALIVE 86400\n").keepalive_seconds, 86400u);
    EXPECT_EQ(bad("FTPKEEPALIVE 86401\n"), "ferryd.conf:1: FTPKEEPALIVE: '86401' is not a number from 0 to 86400");
    EXPECT_EQ(bad("FTPKEEPALIVE -1\n"), "ferryd.conf:1: FTPKEEPALIVE: '-1' is not a number from 0 to 86400");
    EXPECT_EQ(bad("FTPKEEPALIVE\n"), "ferryd.conf:1: FTPKEEPALIVE takes a number of seconds, not 0 values");
}

// ---------------------------------------------------------------------------------------------
// PASSIVEDATACONN, PORTCOMMANDIPADDR, PORTCOMMANDPORT

TEST(passivedataconn, values) {
    EXPECT_EQ(good("PASSIVEDATACONN REDIRECT\n").passive_dataconn, redirect_policy::redirect);
    EXPECT_EQ(good("PASSIVEDATACONN noredirect\n").passive_dataconn, redirect_policy::noredirect);
    EXPECT_EQ(bad("PASSIVEDATACONN UNRESTRICTED\n"),
              "ferryd.conf:1: PASSIVEDATACONN: 'UNRESTRICTED' is not allowed; use NOREDIRECT or REDIRECT");
    EXPECT_EQ(bad("PASSIVEDATACONN\n"), "ferryd.conf:1: PASSIVEDATACONN takes NOREDIRECT or REDIRECT, not 0 values");
    EXPECT_EQ(bad("PASSIVEDATACONN REDIRECT NOREDIRECT\n"),
              "ferryd.conf:1: PASSIVEDATACONN takes NOREDIRECT or REDIRECT, not 2 values");
}

TEST(portcommandipaddr, values) {
    EXPECT_EQ(good("PORTCOMMANDIPADDR UNRESTRICTED\n").port_ipaddr, redirect_policy::redirect);
    EXPECT_EQ(good("PORTCOMMANDIPADDR NOREDIRECT\n").port_ipaddr, redirect_policy::noredirect);
    EXPECT_EQ(bad("PORTCOMMANDIPADDR REDIRECT\n"),
              "ferryd.conf:1: PORTCOMMANDIPADDR: 'REDIRECT' is not allowed; use NOREDIRECT or UNRESTRICTED");
    EXPECT_EQ(bad("PORTCOMMANDIPADDR\n"),
              "ferryd.conf:1: PORTCOMMANDIPADDR takes NOREDIRECT or UNRESTRICTED, not 0 values");
}

TEST(portcommandport, values) {
    EXPECT_TRUE(good("PORTCOMMANDPORT UNRESTRICTED\n").port_low_ports);
    EXPECT_FALSE(good("PORTCOMMANDPORT NOLOWPORTS\n").port_low_ports);
    EXPECT_EQ(bad("PORTCOMMANDPORT ANY\n"),
              "ferryd.conf:1: PORTCOMMANDPORT: 'ANY' is not allowed; use NOLOWPORTS or UNRESTRICTED");
    EXPECT_EQ(bad("PORTCOMMANDPORT\n"), "ferryd.conf:1: PORTCOMMANDPORT takes NOLOWPORTS or UNRESTRICTED, not 0 values");
}

// ---------------------------------------------------------------------------------------------
// A complete file, and loading from disk

TEST(server_settings_file, complete_configuration) {
    auto s = good("; Ferry server configuration\n"
                  "LISTEN 0.0.0.0 21\n"
                  "LISTEN :: 21\n"
                  "TLSPORT 990\n"
                  "KEYRING \"/etc/ferry/server key.pem\"  ; certificate + key\n"
                  "USERS /etc/ferry/users\n"
                  "PASSIVEDATAPORTS 50000 50100\n"
                  "EXTENSIONS AUTH_TLS\n"
                  "SECURE_FTP REQUIRED\n"
                  "SECURE_DATACONN PRIVATE\n"
                  "INACTIVE 600\n"
                  "DATACTTIME 30\n"
                  "PASSIVEDATACONN REDIRECT\n"
                  "PORTCOMMANDIPADDR UNRESTRICTED\n"
                  "PORTCOMMANDPORT UNRESTRICTED\n"
                  "FTPKEEPALIVE 120\n");
    ASSERT_EQ(s.listen.size(), 2u);
    EXPECT_EQ(s.listen[1].host, "::");
    EXPECT_EQ(s.tls_port, 990);
    EXPECT_TRUE(s.tls_port_set);
    EXPECT_EQ(s.keyring, "/etc/ferry/server key.pem");
    EXPECT_EQ(s.users, "/etc/ferry/users");
    EXPECT_EQ(s.passive_low, 50000);
    EXPECT_EQ(s.passive_high, 50100);
    EXPECT_TRUE(s.auth_tls);
    EXPECT_EQ(s.secure, secure_ftp::required);
    EXPECT_EQ(s.dataconn, secure_dataconn::private_);
    EXPECT_EQ(s.inactive_seconds, 600u);
    EXPECT_EQ(s.data_timeout_seconds, 30u);
    EXPECT_EQ(s.passive_dataconn, redirect_policy::redirect);
    EXPECT_EQ(s.port_ipaddr, redirect_policy::redirect);
    EXPECT_TRUE(s.port_low_ports);
    EXPECT_EQ(s.keepalive_seconds, 120u);
}

namespace {
struct temp_file {
    std::string path;
    explicit temp_file(std::string_view content) {
        char tmpl[] = "/tmp/ferry_config_test_XXXXXX";
        int fd = ::mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        if (fd >= 0) ::close(fd);
        path = tmpl;
        std::ofstream(path, std::ios::binary) << content;
    }
    ~temp_file() { std::remove(path.c_str()); }
};
}  // namespace

TEST(server_settings_file, load_reads_the_file) {
    temp_file f("KEYRING k.pem\nEXTENSIONS AUTH_TLS\nSECURE_FTP REQUIRED\nINACTIVE 42\n");
    server_settings s;
    std::string error;
    ASSERT_TRUE(load_server_settings(f.path, s, error)) << error;
    EXPECT_EQ(error, "");
    EXPECT_EQ(s.secure, secure_ftp::required);
    EXPECT_EQ(s.inactive_seconds, 42u);
}

TEST(server_settings_file, load_errors_name_the_file_and_line) {
    temp_file f("INACTIVE 42\n\nSECURE_DATACONN SAFE\n");
    server_settings s;
    std::string error;
    EXPECT_FALSE(load_server_settings(f.path, s, error));
    EXPECT_EQ(error, f.path + ":3: SECURE_DATACONN: 'SAFE' is not allowed; use NEVER or CLEAR or PRIVATE");
}

TEST(server_settings_file, load_missing_file) {
    server_settings s;
    std::string error;
    EXPECT_FALSE(load_server_settings("/nonexistent/ferryd.conf", s, error));
    EXPECT_EQ(error, "/nonexistent/ferryd.conf: cannot open the configuration file");
}

// ---------------------------------------------------------------------------------------------
// Limits (issue 10). These statements did not exist before: every test here fails on the code
// before them ("unknown statement").

TEST(limits, defaults_are_those_of_vsftpd_and_documented) {
    const server_settings d;
    EXPECT_EQ(d.max_sessions, 2000u);           // vsftpd max_clients
    EXPECT_EQ(d.max_sessions_per_host, 50u);    // vsftpd max_per_ip
    EXPECT_EQ(d.max_sessions_per_user, 0u);     // no limit
    EXPECT_EQ(d.login_timeout_seconds, 30u);
    EXPECT_EQ(d.login_attempts, 10u);
    EXPECT_EQ(d.login_attempts_seconds, 300u);
    auto def = [](std::string_view kw) { return std::string(find_entry(kw, side::server)->default_value); };
    EXPECT_EQ(def("MAXSESSIONS"), "2000");
    EXPECT_EQ(def("MAXSESSIONSPERHOST"), "50");
    EXPECT_EQ(def("MAXSESSIONSPERUSER"), "0 (no limit)");
    EXPECT_EQ(def("LOGINTIMEOUT"), "30");
    EXPECT_EQ(def("LOGINATTEMPTS"), "10 300");
}

TEST(limits, values_are_read) {
    auto s = good("MAXSESSIONS 0\nMAXSESSIONSPERHOST 3\nMAXSESSIONSPERUSER 2\nLOGINTIMEOUT 5\nLOGINATTEMPTS 4 60\n");
    EXPECT_EQ(s.max_sessions, 0u);
    EXPECT_EQ(s.max_sessions_per_host, 3u);
    EXPECT_EQ(s.max_sessions_per_user, 2u);
    EXPECT_EQ(s.login_timeout_seconds, 5u);
    EXPECT_EQ(s.login_attempts, 4u);
    EXPECT_EQ(s.login_attempts_seconds, 60u);
    EXPECT_EQ(good("LOGINATTEMPTS 0\n").login_attempts, 0u);  // off needs no window
}

TEST(limits, wrong_values_name_file_and_line) {
    EXPECT_EQ(bad("\nMAXSESSIONS many\n"), "ferryd.conf:2: MAXSESSIONS: 'many' is not a number from 0 to 1000000");
    EXPECT_EQ(bad("MAXSESSIONSPERHOST -1\n"),
              "ferryd.conf:1: MAXSESSIONSPERHOST: '-1' is not a number from 0 to 1000000");
    EXPECT_EQ(bad("MAXSESSIONSPERUSER 1 2\n"),
              "ferryd.conf:1: MAXSESSIONSPERUSER takes a number of sessions, not 2 values");
    EXPECT_EQ(bad("LOGINTIMEOUT 0\n"), "ferryd.conf:1: LOGINTIMEOUT: '0' is not a number from 1 to 86400");
    EXPECT_EQ(bad("LOGINATTEMPTS 5\n"),
              "ferryd.conf:1: LOGINATTEMPTS takes a number of failures and a number of seconds, not 1 value");
    EXPECT_EQ(bad("LOGINATTEMPTS 5 0\n"), "ferryd.conf:1: LOGINATTEMPTS: '0' is not a number from 1 to 86400");
    EXPECT_EQ(bad("MAXSESSIONS 5\nMAXSESSIONS 6\n"), "ferryd.conf:2: MAXSESSIONS is given twice; it may appear once");
}

// ---------------------------------------------------------------------------------------------
// --help-config

TEST(describe, lists_every_server_statement) {
    const std::string text = describe(side::server);
    // Each statement begins a line: "KEYWORD syntax   (default: x)".
    auto has_line_for = [&](std::string_view kw) {
        const std::string head = std::string(kw) + " ";
        return text.rfind(head, 0) == 0 || text.find("\n" + head) != std::string::npos;
    };
    for (const auto& smp : samples) EXPECT_TRUE(has_line_for(smp.keyword)) << smp.keyword << "\n" << text;
    std::size_t server_entries = 0;
    for (const auto& e : schema()) {
        if (e.where != side::server) continue;
        ++server_entries;
        ASSERT_NE(e.apply_server, nullptr) << e.keyword;
        EXPECT_TRUE(has_line_for(e.keyword)) << e.keyword;
        const std::string row = std::string(e.keyword) + " " + std::string(e.syntax) + "   (default: " +
                                std::string(e.default_value) + ")\n    " + std::string(e.meaning) + "\n";
        EXPECT_NE(text.find(row), std::string::npos) << row;
        EXPECT_FALSE(e.meaning.empty()) << e.keyword;
        EXPECT_FALSE(e.syntax.empty()) << e.keyword;
        // Every described statement is one the parser accepts (not "unknown statement").
        auto r = parse(std::string(e.keyword) + "\n");
        EXPECT_EQ(r.error.find("unknown statement"), std::string::npos) << r.error;
    }
    EXPECT_GE(server_entries, std::size(samples));
    // Two lines per statement.
    EXPECT_EQ(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')), 2 * server_entries);
}

TEST(describe, server_text_has_no_client_only_statement) {
    const std::string text = describe(side::server);
    for (const auto& e : schema()) {
        if (e.where != side::client || find_entry(e.keyword, side::server)) continue;
        EXPECT_EQ(text.find("\n" + std::string(e.keyword) + " "), std::string::npos) << e.keyword;
        EXPECT_NE(text.rfind(std::string(e.keyword) + " ", 0), 0u) << e.keyword;
    }
}

// Text that only looks like an address is refused at its line, not later at start-up.
TEST(listen, malformed_numeric_address_is_refused) {
    EXPECT_EQ(bad("PASSIVEADDRESS 192.0.2.1 FOR 10.0.0.0/33\n"),
              "ferryd.conf:1: PASSIVEADDRESS: '10.0.0.0/33' is not a subnet such as 192.168.0.0/16");
    EXPECT_EQ(bad("LISTEN 999.1.1.1 21\n"), "ferryd.conf:1: LISTEN: '999.1.1.1' is not a numeric IPv4 or IPv6 address");
    EXPECT_EQ(bad("LISTEN ... 21\n"), "ferryd.conf:1: LISTEN: '...' is not a numeric IPv4 or IPv6 address");
    EXPECT_EQ(bad("LISTEN 1.2.3 21\n"), "ferryd.conf:1: LISTEN: '1.2.3' is not a numeric IPv4 or IPv6 address");
    EXPECT_EQ(bad("LISTEN ::::::::: 21\n"), "ferryd.conf:1: LISTEN: ':::::::::' is not a numeric IPv4 or IPv6 address");
}

// CRLFILE (issue 10): only where client certificates are asked for. Failed before CRLFILE
// existed ("unknown statement 'CRLFILE'").
TEST(crlfile, kept_with_client_certificates) {
    auto s = good(std::string(tls) + "SECURE_LOGIN REQUIRED\nCAFILE /etc/ferry/ca.pem\nCRLFILE /etc/ferry/ca.crl\n");
    EXPECT_EQ(s.crlfile, "/etc/ferry/ca.crl");
    s = good(std::string(tls) +
             "SECURE_LOGIN VERIFY_USER\nCAFILE ca.pem\nCERTMAP certmap\nCRLFILE ca.crl\n");
    EXPECT_EQ(s.crlfile, "ca.crl");
}

TEST(crlfile, refused_without_client_certificates) {
    auto e = bad(std::string(tls) + "; no SECURE_LOGIN\nCRLFILE /etc/ferry/ca.crl\n");
    EXPECT_EQ(e.rfind("ferryd.conf:4: CRLFILE needs SECURE_LOGIN REQUIRED or VERIFY_USER", 0), 0u) << e;
    e = bad(std::string(tls) + "SECURE_LOGIN NO_CLIENT_AUTH\nCRLFILE /etc/ferry/ca.crl\n");
    EXPECT_EQ(e.rfind("ferryd.conf:4: CRLFILE needs", 0), 0u) << e;
}

TEST(crlfile, wrong_number_of_values_and_twice) {
    auto base = std::string(tls) + "SECURE_LOGIN REQUIRED\nCAFILE ca.pem\n";
    EXPECT_FALSE(parse(base + "CRLFILE\n").ok);
    EXPECT_FALSE(parse(base + "CRLFILE a.crl b.crl\n").ok);
    EXPECT_EQ(bad(base + "CRLFILE a.crl\nCRLFILE b.crl\n"), "ferryd.conf:6: CRLFILE is given twice; it may appear once");
}

// ferryd --listen: the three spellings, and what is not an address and port.
TEST(parse_listen_address, spellings_and_refusals) {
    auto a = ferry::config::parse_listen_address("127.0.0.1:2121");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 2121);
    a = ferry::config::parse_listen_address("[::1]:21");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "::1");
    EXPECT_EQ(a->port, 21);
    a = ferry::config::parse_listen_address("990");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "0.0.0.0");
    EXPECT_EQ(a->port, 990);
    for (const char* bad : {"", "host:", ":21", "1.2.3.4:65536", "1.2.3.4:21x", "[::1]21", "[::1]:", "-1", "x"})
        EXPECT_FALSE(ferry::config::parse_listen_address(bad)) << bad;
}

// ---------------------------------------------------------------------------------------------
// DOWNLOADRATE / UPLOADRATE

TEST(rates, numbers_with_k_m_g_suffixes_in_either_case) {
    auto s = good("DOWNLOADRATE 512K\nUPLOADRATE 10m\n");
    EXPECT_EQ(s.download_rate, 512u * 1024);
    EXPECT_EQ(s.upload_rate, 10u * 1024 * 1024);
    EXPECT_EQ(good("DOWNLOADRATE 1G\n").download_rate, 1ull << 30);
    EXPECT_EQ(good("UPLOADRATE 1024\n").upload_rate, 1024u);
    const server_settings d;
    EXPECT_EQ(d.download_rate, 0u);  // no limit unless written
    EXPECT_EQ(good("DOWNLOADRATE 0\n").download_rate, 0u);
}

TEST(rates, what_is_not_a_rate_is_refused_at_its_line) {
    for (const char* v : {"100", "1.5M", "5X", "M", "-1", "2048G", "10 M"}) {
        const std::string e = bad(std::string("\nDOWNLOADRATE ") + v + "\n");
        EXPECT_EQ(e.rfind("ferryd.conf:2: DOWNLOADRATE", 0), 0u) << v << ": " << e;
    }
    EXPECT_NE(bad("UPLOADRATE 1k2\n").find("is not a rate in bytes a second"), std::string::npos);
}
