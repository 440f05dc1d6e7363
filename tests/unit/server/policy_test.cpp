// server/policy.hpp: the SECURE_FTP / SECURE_DATACONN checks, for every combination of settings
// and session security state, with their reply codes (530 503 534 536 504 521) and texts.
#include "server/policy.hpp"

#include <gtest/gtest.h>

#include <string>

#include "proto/reply_code.hpp"

using namespace ferry;
using config::secure_dataconn;
using config::secure_ftp;
using server::check_command_security;
using server::check_data_protection;
using server::check_prot;
using server::security_state;

namespace {

const secure_ftp ftp_modes[] = {secure_ftp::allowed, secure_ftp::required};
const secure_dataconn data_modes[] = {secure_dataconn::never, secure_dataconn::clear, secure_dataconn::private_};

config::server_settings settings(secure_ftp f, secure_dataconn d) {
    config::server_settings s;
    s.keyring = "k.pem";
    s.auth_tls = true;
    s.secure = f;
    s.dataconn = d;
    return s;
}

// Every combination of the security_state flags.
std::vector<security_state> all_states() {
    std::vector<security_state> v;
    for (int bits = 0; bits < 16; ++bits)
        v.push_back(security_state{.control_secure = (bits & 1) != 0,
                                   .control_cleared = (bits & 2) != 0,
                                   .pbsz_done = (bits & 4) != 0,
                                   .prot_private = (bits & 8) != 0});
    return v;
}

std::string describe(const security_state& st) {
    return std::string("control_secure=") + (st.control_secure ? "1" : "0") +
           " control_cleared=" + (st.control_cleared ? "1" : "0") + " pbsz_done=" + (st.pbsz_done ? "1" : "0") +
           " prot_private=" + (st.prot_private ? "1" : "0");
}

const char* const tls_required = "This server requires TLS: send AUTH TLS first (SECURE_FTP REQUIRED).";
const char* const prot_needs_tls = "PROT needs a TLS-protected control connection: send AUTH TLS first.";
const char* const prot_needs_pbsz = "PROT must be preceded by PBSZ 0.";
const char* const prot_c_refused = "PROT C refused: this server requires protected data (SECURE_DATACONN PRIVATE).";
const char* const prot_p_refused = "PROT P refused: this server transfers data in clear only (SECURE_DATACONN NEVER).";
const char* const prot_takes = "PROT takes C or P.";
const char* const data_refused =
    "Data connections must be protected: send PBSZ 0 and PROT P first (SECURE_DATACONN PRIVATE).";

}  // namespace

// Reply codes as RFC 959 / 2228 / 4217 number them.
TEST(policy_codes, named_codes_have_the_rfc_values) {
    EXPECT_EQ(proto::code::not_logged_in, 530);
    EXPECT_EQ(proto::code::bad_sequence, 503);
    EXPECT_EQ(proto::code::policy_requires_security, 534);
    EXPECT_EQ(proto::code::prot_level_not_supported, 536);
    EXPECT_EQ(proto::code::not_implemented_param, 504);
    EXPECT_EQ(proto::code::data_prot_refused, 521);
}

// ---------------------------------------------------------------------------------------------
// check_command_security

TEST(check_command_security, required_refuses_commands_on_a_clear_connection_with_530) {
    for (auto d : data_modes) {
        auto s = settings(secure_ftp::required, d);
        auto r = check_command_security(s, security_state{}, false);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->code, 530);
        EXPECT_EQ(r->text, tls_required);
        // PBSZ/PROT flags do not matter: only the control connection's protection does.
        r = check_command_security(s, security_state{.pbsz_done = true, .prot_private = true}, false);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->code, 530);
    }
}

TEST(check_command_security, required_allows_pre_auth_commands_in_clear) {
    // AUTH, FEAT, QUIT and the like (pre_auth flag) must work, or the client could never start TLS.
    auto s = settings(secure_ftp::required, secure_dataconn::clear);
    EXPECT_FALSE(check_command_security(s, security_state{}, true));
}

TEST(check_command_security, required_allows_everything_once_tls_is_on) {
    auto s = settings(secure_ftp::required, secure_dataconn::private_);
    EXPECT_FALSE(check_command_security(s, security_state{.control_secure = true}, false));
    EXPECT_FALSE(check_command_security(s, security_state{.control_secure = true}, true));
}

TEST(check_command_security, required_counts_a_ccc_cleared_connection_as_secured) {
    auto s = settings(secure_ftp::required, secure_dataconn::clear);
    EXPECT_FALSE(check_command_security(s, security_state{.control_cleared = true}, false));
}

TEST(check_command_security, all_combinations) {
    for (auto f : ftp_modes)
        for (auto d : data_modes)
            for (const auto& st : all_states())
                for (bool pre_auth : {false, true}) {
                    auto r = check_command_security(settings(f, d), st, pre_auth);
                    bool refuse = f == secure_ftp::required && !st.control_secure && !st.control_cleared && !pre_auth;
                    ASSERT_EQ(r.has_value(), refuse) << describe(st) << " pre_auth=" << pre_auth;
                    if (refuse) {
                        EXPECT_EQ(r->code, 530);
                        EXPECT_EQ(r->text, tls_required);
                    }
                }
}

// ---------------------------------------------------------------------------------------------
// check_prot

TEST(check_prot, needs_tls_on_the_control_connection_503) {
    for (auto f : ftp_modes)
        for (auto d : data_modes)
            for (char level : {'C', 'P', 'S', 'E', 'X'}) {
                // Even with PBSZ done: AUTH comes first, and that is the error reported.
                auto r = check_prot(settings(f, d), security_state{.pbsz_done = true}, level);
                ASSERT_TRUE(r);
                EXPECT_EQ(r->code, 503);
                EXPECT_EQ(r->text, prot_needs_tls);
            }
}

TEST(check_prot, needs_pbsz_first_503) {
    for (auto d : data_modes)
        for (char level : {'C', 'P', 'S', 'X'}) {
            auto r = check_prot(settings(secure_ftp::allowed, d), security_state{.control_secure = true}, level);
            ASSERT_TRUE(r);
            EXPECT_EQ(r->code, 503);
            EXPECT_EQ(r->text, prot_needs_pbsz);
        }
}

TEST(check_prot, never_refuses_prot_p_with_534_and_accepts_prot_c) {
    const security_state ready{.control_secure = true, .pbsz_done = true};
    for (auto f : ftp_modes) {
        auto s = settings(f, secure_dataconn::never);
        auto r = check_prot(s, ready, 'P');
        ASSERT_TRUE(r);
        EXPECT_EQ(r->code, 534);
        EXPECT_EQ(r->text, prot_p_refused);
        EXPECT_FALSE(check_prot(s, ready, 'C'));
    }
}

TEST(check_prot, clear_accepts_both) {
    const security_state ready{.control_secure = true, .pbsz_done = true};
    for (auto f : ftp_modes) {
        auto s = settings(f, secure_dataconn::clear);
        EXPECT_FALSE(check_prot(s, ready, 'C'));
        EXPECT_FALSE(check_prot(s, ready, 'P'));
    }
}

TEST(check_prot, private_refuses_prot_c_with_534_and_accepts_prot_p) {
    const security_state ready{.control_secure = true, .pbsz_done = true};
    for (auto f : ftp_modes) {
        auto s = settings(f, secure_dataconn::private_);
        auto r = check_prot(s, ready, 'C');
        ASSERT_TRUE(r);
        EXPECT_EQ(r->code, 534);
        EXPECT_EQ(r->text, prot_c_refused);
        EXPECT_FALSE(check_prot(s, ready, 'P'));
    }
}

TEST(check_prot, safe_and_confidential_levels_are_not_supported_536) {
    const security_state ready{.control_secure = true, .pbsz_done = true};
    for (auto f : ftp_modes)
        for (auto d : data_modes) {
            auto r = check_prot(settings(f, d), ready, 'S');
            ASSERT_TRUE(r);
            EXPECT_EQ(r->code, 536);
            EXPECT_EQ(r->text, "PROT S not supported: TLS gives integrity only together with privacy; use PROT P.");
            r = check_prot(settings(f, d), ready, 'E');
            ASSERT_TRUE(r);
            EXPECT_EQ(r->code, 536);
            EXPECT_EQ(r->text, "PROT E not supported: TLS gives integrity only together with privacy; use PROT P.");
        }
}

TEST(check_prot, unknown_level_504) {
    // The session upper-cases the argument and passes '?' for anything but one character.
    const security_state ready{.control_secure = true, .pbsz_done = true};
    for (auto d : data_modes)
        for (char level : {'?', 'X', 'c', 'p', ' ', '\0'}) {
            auto r = check_prot(settings(secure_ftp::allowed, d), ready, level);
            ASSERT_TRUE(r) << int(level);
            EXPECT_EQ(r->code, 504);
            EXPECT_EQ(r->text, prot_takes);
        }
}

TEST(check_prot, after_ccc_prot_is_still_judged_by_secure_dataconn) {
    const security_state cleared{.control_cleared = true, .pbsz_done = true};
    EXPECT_FALSE(check_prot(settings(secure_ftp::allowed, secure_dataconn::clear), cleared, 'P'));
    auto r = check_prot(settings(secure_ftp::allowed, secure_dataconn::private_), cleared, 'C');
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, 534);
}

TEST(check_prot, all_combinations) {
    for (auto f : ftp_modes)
        for (auto d : data_modes)
            for (const auto& st : all_states())
                for (char level : {'C', 'P', 'S', 'E', 'Z'}) {
                    auto r = check_prot(settings(f, d), st, level);
                    int want = 0;
                    if (!st.control_secure && !st.control_cleared)
                        want = 503;
                    else if (!st.pbsz_done)
                        want = 503;
                    else if (level == 'C')
                        want = d == secure_dataconn::private_ ? 534 : 0;
                    else if (level == 'P')
                        want = d == secure_dataconn::never ? 534 : 0;
                    else if (level == 'S' || level == 'E')
                        want = 536;
                    else
                        want = 504;
                    ASSERT_EQ(r ? r->code : 0, want) << describe(st) << " level=" << level;
                    // SECURE_FTP has no say in PROT.
                    auto other = check_prot(settings(f == secure_ftp::allowed ? secure_ftp::required : secure_ftp::allowed, d),
                                            st, level);
                    EXPECT_EQ(other ? other->code : 0, want);
                }
}

// ---------------------------------------------------------------------------------------------
// check_data_protection

TEST(check_data_protection, private_refuses_clear_data_with_521) {
    for (auto f : ftp_modes) {
        auto s = settings(f, secure_dataconn::private_);
        auto r = check_data_protection(s, security_state{.control_secure = true, .pbsz_done = true});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->code, 521);
        EXPECT_EQ(r->text, data_refused);
        r = check_data_protection(s, security_state{});
        ASSERT_TRUE(r);
        EXPECT_EQ(r->code, 521);
        EXPECT_FALSE(check_data_protection(s, security_state{.control_secure = true, .pbsz_done = true, .prot_private = true}));
    }
}

TEST(check_data_protection, never_and_clear_allow_any_data_connection) {
    for (auto f : ftp_modes)
        for (auto d : {secure_dataconn::never, secure_dataconn::clear})
            for (const auto& st : all_states()) EXPECT_FALSE(check_data_protection(settings(f, d), st)) << describe(st);
}

TEST(check_data_protection, all_combinations) {
    for (auto f : ftp_modes)
        for (auto d : data_modes)
            for (const auto& st : all_states()) {
                auto r = check_data_protection(settings(f, d), st);
                bool refuse = d == secure_dataconn::private_ && !st.prot_private;
                ASSERT_EQ(r.has_value(), refuse) << describe(st);
                if (refuse) {
                    EXPECT_EQ(r->code, 521);
                    EXPECT_EQ(r->text, data_refused);
                }
            }
}

// SECURE_LOGIN REQUIRED and VERIFY_USER need TLS on the control connection for a login,
// whatever SECURE_FTP says; NO_CLIENT_AUTH leaves it to SECURE_FTP.
TEST(policy, login_with_client_certificates_needs_tls_on_the_control_connection) {
    using config::secure_login;
    for (auto login : {secure_login::no_client_auth, secure_login::required, secure_login::verify_user})
        for (auto f : ftp_modes)
            for (const auto& st : all_states()) {
                auto s = settings(f, secure_dataconn::clear);
                s.login = login;
                auto r = server::check_login(s, st);
                const bool refused = login != secure_login::no_client_auth && !st.control_secure;
                ASSERT_EQ(r.has_value(), refused) << describe(st);
                if (refused) {
                    EXPECT_EQ(r->code, 530);
                    EXPECT_EQ(r->text, std::string("This server requires a client certificate: send AUTH TLS first (SECURE_LOGIN ") +
                                           (login == secure_login::required ? "REQUIRED" : "VERIFY_USER") + ").");
                }
            }
}

// ---- the decisions the handlers used to make inline (issue 11), each over every value of the
// statements it reads and every security state ----

namespace {
using config::secure_login;
using config::tls_rfc_level;
const tls_rfc_level rfc_levels[] = {tls_rfc_level::draft, tls_rfc_level::rfc4217, tls_rfc_level::cccnonotify};
const secure_login login_levels[] = {secure_login::no_client_auth, secure_login::required, secure_login::verify_user};

auth::cert_mapping mapping(std::string user, std::vector<std::uint16_t> ports = {}) {
    auth::cert_mapping m;
    m.user = std::move(user);
    m.subject = "CN=" + m.user;
    m.issuer = "CN=CA";
    m.ports = std::move(ports);
    return m;
}
}  // namespace

// AUTH: 502 when TLS is not offered (no KEYRING or no EXTENSIONS AUTH_TLS) whatever the state,
// then 503 when TLS is already on, then 503 after login at DRAFT only.
TEST(check_auth, every_level_offer_and_state) {
    for (auto level : rfc_levels)
        for (bool offered : {false, true})
            for (bool keyring : {false, true})
                for (bool logged_in : {false, true})
                    for (const auto& st : all_states()) {
                        auto s = settings(secure_ftp::allowed, secure_dataconn::clear);
                        s.rfc_level = level;
                        s.auth_tls = offered;
                        auto r = server::check_auth(s, st, keyring, logged_in);
                        const std::string at = describe(st) + " offered=" + std::to_string(offered) +
                                               " keyring=" + std::to_string(keyring) + " logged_in=" + std::to_string(logged_in);
                        if (!offered || !keyring) {
                            ASSERT_TRUE(r) << at;
                            EXPECT_EQ(r->code, 502) << at;
                        } else if (st.control_secure) {
                            ASSERT_TRUE(r) << at;
                            EXPECT_EQ(r->code, 503) << at;
                            EXPECT_EQ(r->text, "The control connection is already protected by TLS.");
                        } else if (logged_in && level == tls_rfc_level::draft) {
                            ASSERT_TRUE(r) << at;
                            EXPECT_EQ(r->code, 503) << at;
                            EXPECT_EQ(r->text, "AUTH must come before login (TLSRFCLEVEL DRAFT).");
                        } else {
                            EXPECT_FALSE(r) << at;
                        }
                    }
}

// PBSZ: 503 unless TLS is (or was, before CCC) on the control connection.
TEST(check_pbsz, needs_tls_or_a_ccc_cleared_connection) {
    for (const auto& st : all_states()) {
        auto r = server::check_pbsz(st);
        ASSERT_EQ(r.has_value(), !st.control_secure && !st.control_cleared) << describe(st);
        if (r) {
            EXPECT_EQ(r->code, 503);
        }
    }
}

// CCC: 533 in clear (also after an earlier CCC), 534 at DRAFT, allowed at RFC4217/CCCNONOTIFY.
TEST(check_ccc, every_level_and_state) {
    for (auto level : rfc_levels)
        for (const auto& st : all_states()) {
            auto s = settings(secure_ftp::allowed, secure_dataconn::clear);
            s.rfc_level = level;
            auto r = server::check_ccc(s, st);
            if (!st.control_secure) {
                ASSERT_TRUE(r) << describe(st);
                EXPECT_EQ(r->code, 533);
            } else if (level == tls_rfc_level::draft) {
                ASSERT_TRUE(r) << describe(st);
                EXPECT_EQ(r->code, 534);
            } else {
                EXPECT_FALSE(r) << describe(st);
            }
        }
}

// REIN ends TLS only where it is on and the level is not DRAFT.
TEST(rein_ends_tls, every_level_and_state) {
    for (auto level : rfc_levels)
        for (const auto& st : all_states()) {
            auto s = settings(secure_ftp::allowed, secure_dataconn::clear);
            s.rfc_level = level;
            EXPECT_EQ(server::rein_ends_tls(s, st), st.control_secure && level != tls_rfc_level::draft) << describe(st);
        }
}

// VERIFY_USER at the handshake: 421 for an unregistered certificate and for a port the entry
// does not list; the other levels never refuse here.
TEST(check_certificate_at_handshake, every_login_level_entry_and_port) {
    const auto any_port = mapping("alice"), only_990 = mapping("alice", {990});
    for (auto login : login_levels)
        for (const auth::cert_mapping* cert : {static_cast<const auth::cert_mapping*>(nullptr), &any_port, &only_990})
            for (std::uint16_t port : {21, 990}) {
                auto s = settings(secure_ftp::allowed, secure_dataconn::clear);
                s.login = login;
                auto r = server::check_certificate_at_handshake(s, cert, port);
                const bool refused = login == secure_login::verify_user && (!cert || (cert == &only_990 && port != 990));
                ASSERT_EQ(r.has_value(), refused) << static_cast<int>(login) << " port " << port;
                if (r) {
                    EXPECT_EQ(r->code, 421);
                    EXPECT_EQ(r->text, cert ? "User alice may not use this server port (SECURE_LOGIN VERIFY_USER)."
                                            : "Client certificate is not registered to any user (SECURE_LOGIN VERIFY_USER).");
                }
            }
}

// USER under VERIFY_USER: another user than the certificate's is refused (530) on a protected
// control connection; SECURE_PASSWORD OPTIONAL lets the certificate's own user in without PASS.
TEST(certificates_and_users, every_level_password_rule_state_and_name) {
    const auto alice = mapping("alice");
    for (auto login : login_levels)
        for (bool optional : {false, true})
            for (const auth::cert_mapping* cert : {static_cast<const auth::cert_mapping*>(nullptr), &alice})
                for (const std::string user : {"alice", "bob"})
                    for (const auto& st : all_states()) {
                        auto s = settings(secure_ftp::allowed, secure_dataconn::clear);
                        s.login = login;
                        s.password_optional = optional;
                        const std::string at = describe(st) + " user=" + user + " cert=" + (cert ? "alice" : "none");
                        auto r = server::check_user_for_certificate(s, st, cert, user);
                        const bool other = st.control_secure && login == secure_login::verify_user && cert && user != "alice";
                        ASSERT_EQ(r.has_value(), other) << at;
                        if (r) {
                            EXPECT_EQ(r->code, 530);
                            EXPECT_EQ(r->text, "Your client certificate belongs to user alice, not bob (SECURE_LOGIN VERIFY_USER).");
                        }
                        EXPECT_EQ(server::certificate_replaces_password(s, st, cert, user),
                                  st.control_secure && optional && cert && user == "alice")
                            << at;
                    }
}

// SECURE_SESSION_REUSE REQUIRED: only a data connection that resumed this session's own TLS
// session; a session without a tag (no random bytes) can prove nothing and refuses all.
TEST(check_data_session_reuse, every_setting_and_tag) {
    for (bool required : {false, true})
        for (const std::string control : {"", "tag-a"})
            for (const std::string resumed : {"", "tag-a", "tag-b"}) {
                auto s = settings(secure_ftp::allowed, secure_dataconn::private_);
                s.session_reuse_required = required;
                auto r = server::check_data_session_reuse(s, control, resumed);
                const bool refused = required && (control.empty() || resumed != control);
                EXPECT_EQ(r.has_value(), refused) << required << " '" << control << "' '" << resumed << "'";
            }
}

TEST(passive_peer_must_match, follows_passivedataconn) {
    auto s = settings(secure_ftp::allowed, secure_dataconn::clear);
    s.passive_dataconn = config::redirect_policy::noredirect;
    EXPECT_TRUE(server::passive_peer_must_match(s));
    s.passive_dataconn = config::redirect_policy::redirect;
    EXPECT_FALSE(server::passive_peer_must_match(s));
}
