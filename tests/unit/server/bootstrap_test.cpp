// server/bootstrap and server/tls_setup: a configuration file becomes a loaded server (or a
// refusal naming the statement at fault); `ferryd serve` becomes one. Nothing is bound except
// 127.0.0.1 port 0, and nothing is confined.
#include "server/bootstrap.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "auth/users_file.hpp"
#include "config/settings.hpp"
#include "server/serve_folder.hpp"
#include "server/server.hpp"
#include "server/tls_setup.hpp"
#include "tls/context.hpp"

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ferry;

namespace {

// A configuration folder: ferryd.conf naming relative files, a USERS file with one user whose
// home exists, and (with_keyring) a self-signed KEYRING.
struct config_dir {
    temp_dir d;
    fs::path conf = d.path / "ferryd.conf";
    fs::path home = d.path / "home";

    explicit config_dir(bool with_keyring = true) {
        fs::create_directories(home);
        std::ofstream(d.path / "users") << "alice:" << auth::make_sha512_hash("secret") << ":" << home.string() << "\n";
        ::chmod((d.path / "users").c_str(), 0600);
        if (with_keyring) {
            std::string error;
            EXPECT_TRUE(tls::generate_self_signed((d.path / "server.pem").string(), "localhost", "DNS:localhost", 1, error))
                << error;
        }
    }
    // The statements after the common head (line 1 RUNAS, 2 USERS, 3 LISTEN, 4 TLSPORT): the
    // first of `more` is line 5.
    config::server_settings settings(const std::string& more, std::string runas = "root") {
        std::ofstream(conf) << "RUNAS " << runas << "\nUSERS users\nLISTEN 127.0.0.1 0\nTLSPORT 0\n" << more;
        config::server_settings s;
        std::string error;
        EXPECT_TRUE(config::load_server_settings(conf.string(), s, error)) << error;
        return s;
    }
    server::load_options options() const { return {conf.string(), "", nullptr}; }
};

const std::string tls_statements = "KEYRING server.pem\nEXTENSIONS AUTH_TLS\n";

}  // namespace

TEST(bootstrap, a_valid_config_gives_a_tls_context_the_homes_and_a_plan) {
    config_dir c;
    server::start_error error;
    auto loaded = server::load(c.settings(tls_statements), c.options(), error);
    ASSERT_TRUE(loaded) << error.text;
    const auto& ctx = *loaded->context;
    // Relative names are relative to the configuration file's folder.
    EXPECT_EQ(ctx.settings.keyring, (c.d.path / "server.pem").string());
    EXPECT_EQ(ctx.settings.users, (c.d.path / "users").string());
    ASSERT_TRUE(ctx.current_tls());
    EXPECT_EQ(ctx.current_tls()->fingerprint().rfind("SHA256:", 0), 0u);
    ASSERT_TRUE(ctx.make_tls);  // SIGHUP makes a fresh one from the same files
    std::string reload_error;
    EXPECT_TRUE(ctx.make_tls(reload_error)) << reload_error;
    ASSERT_NE(ctx.users.find("alice"), nullptr);
    EXPECT_EQ(loaded->homes, std::vector<std::string>{c.home.string()});
    ASSERT_TRUE(loaded->confinement.user);
    if (::geteuid() == 0) {
        EXPECT_EQ(loaded->confinement.user->name, "root");  // RUNAS root
    }
    EXPECT_TRUE(loaded->confinement.confine);
    EXPECT_NE(std::find(loaded->confinement.read_write.begin(), loaded->confinement.read_write.end(), c.home.string()),
              loaded->confinement.read_write.end());
    EXPECT_TRUE(ctx.log);  // no logger given: one that logs nowhere

    server::server srv(loaded->context, 1);
    std::string bind_error;
    ASSERT_TRUE(srv.start(bind_error)) << bind_error;
    ASSERT_EQ(srv.explicit_endpoints().size(), 1u);
    EXPECT_EQ(srv.explicit_endpoints()[0].address().to_string(), "127.0.0.1");
    EXPECT_NE(srv.explicit_endpoints()[0].port(), 0);
    EXPECT_TRUE(srv.implicit_endpoints().empty());  // TLSPORT 0
}

TEST(bootstrap, without_a_keyring_there_is_no_tls_context) {
    config_dir c(false);
    server::start_error error;
    auto loaded = server::load(c.settings(""), c.options(), error);
    ASSERT_TRUE(loaded) << error.text;
    EXPECT_FALSE(loaded->context->current_tls());
    EXPECT_FALSE(loaded->context->make_tls);
}

TEST(bootstrap, an_unknown_ciphersuite_is_refused_with_its_statement) {
    config_dir c;
    server::start_error error;
    auto s = c.settings(tls_statements + "CIPHERSUITE TLS_AES_256_GCM_SHA384\nCIPHERSUITE NO-SUCH-CIPHER\n");
    EXPECT_FALSE(server::load(s, c.options(), error));
    EXPECT_EQ(error.exit_status, 2);
    EXPECT_EQ(error.text.rfind(c.conf.string() + ":8: CIPHERSUITE NO-SUCH-CIPHER is not a cipher suite OpenSSL knows", 0),
              0u)
        << error.text;
}

TEST(bootstrap, a_missing_keyring_names_the_file) {
    config_dir c(false);
    server::start_error error;
    EXPECT_FALSE(server::load(c.settings("KEYRING nosuch.pem\nEXTENSIONS AUTH_TLS\n"), c.options(), error));
    EXPECT_EQ(error.exit_status, 2);
    EXPECT_EQ(error.text.rfind((c.d.path / "nosuch.pem").string() + ": cannot read the certificate chain", 0), 0u)
        << error.text;
}

TEST(bootstrap, a_keyring_others_can_change_is_refused) {
    config_dir c;
    ::chmod((c.d.path / "server.pem").c_str(), 0666);
    server::start_error error;
    EXPECT_FALSE(server::load(c.settings(tls_statements), c.options(), error));
    EXPECT_NE(error.text.find("can be changed by other users"), std::string::npos) << error.text;
    EXPECT_NE(error.text.find("server.pem"), std::string::npos) << error.text;
}

TEST(bootstrap, no_users_statement_and_an_unknown_runas_are_refused) {
    config_dir c;
    config::server_settings no_users;
    server::start_error error;
    EXPECT_FALSE(server::load(no_users, c.options(), error));
    EXPECT_EQ(error.text, c.conf.string() + ": no USERS statement (and SYSTEMUSERS OFF): nobody could log in");
    EXPECT_EQ(error.exit_status, 2);

    EXPECT_FALSE(server::load(c.settings("", "nosuchuser-ferry"), c.options(), error));
    EXPECT_EQ(error.text, c.conf.string() + ":1: RUNAS nosuchuser-ferry: no such user");
}

TEST(bootstrap, users_root_resolves_relative_homes) {
    config_dir c;
    std::ofstream(c.d.path / "users") << "bob:" << auth::make_sha512_hash("pw") << ":bobs\n";
    fs::create_directories(c.d.path / "srv" / "bobs");
    auto opts = c.options();
    opts.users_root = (c.d.path / "srv").string();
    server::start_error error;
    auto loaded = server::load(c.settings(""), opts, error);
    ASSERT_TRUE(loaded) << error.text;
    EXPECT_EQ(loaded->homes, std::vector<std::string>{(c.d.path / "srv" / "bobs").string()});
}

TEST(tls_setup, cipher_names_are_sorted_by_protocol_and_tls13_only_raises_the_minimum) {
    config::server_settings s;
    s.keyring = "k.pem";
    s.ciphersuites = {{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "f:1"}, {"TLS_AES_128_GCM_SHA256", "f:2"}};
    tls::server_options o;
    std::string error;
    ASSERT_TRUE(server::tls_options_from(s, o, error)) << error;
    EXPECT_EQ(o.cipher_list, "ECDHE-RSA-AES256-GCM-SHA384");  // the IANA name in OpenSSL's spelling
    EXPECT_EQ(o.ciphersuites, "TLS_AES_128_GCM_SHA256");
    EXPECT_EQ(o.min_version, tls::protocol_version::tls1_2);
    ASSERT_TRUE(o.tickets);  // TLSTIMEOUT 100: ticket keys shared by the contexts SIGHUP makes

    s.ciphersuites = {{"TLS_AES_256_GCM_SHA384", "f:3"}};
    s.tls_min = config::tls_protocol::v1_0;
    tls::server_options only13;
    ASSERT_TRUE(server::tls_options_from(s, only13, error)) << error;
    EXPECT_EQ(only13.min_version, tls::protocol_version::tls1_3);

    s.ciphersuites.clear();
    s.tls_timeout_seconds = 0;
    s.login = config::secure_login::required;
    tls::server_options plain;
    ASSERT_TRUE(server::tls_options_from(s, plain, error)) << error;
    EXPECT_EQ(plain.min_version, tls::protocol_version::tls1_0);
    EXPECT_FALSE(plain.tickets);  // no resumption
    EXPECT_TRUE(plain.require_client_cert);
}

TEST(serve_folder, a_folder_gets_a_certificate_a_password_and_tls_everywhere) {
    temp_dir state, served;
    ::setenv("FERRYD_STATE_DIR", (state.path / "ferryd").c_str(), 1);
    server::folder_request r;
    r.dir = served.path.string();
    r.listen_host = "127.0.0.1";
    r.run_as = ::geteuid() == 0 ? "root" : "";
    server::start_error error;
    auto f = server::load_folder(r, error);
    ASSERT_TRUE(f) << error.text;
    EXPECT_EQ(f->certificate, (state.path / "ferryd" / "serve.pem").string());
    struct stat st{};
    ASSERT_EQ(::stat(f->certificate.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u);
    EXPECT_EQ(f->password.size(), 18u);
    const auto& ctx = *f->server.context;
    ASSERT_TRUE(ctx.current_tls());
    EXPECT_EQ(ctx.settings.secure, config::secure_ftp::required);
    EXPECT_EQ(ctx.settings.dataconn, config::secure_dataconn::private_);
    EXPECT_EQ(ctx.settings.tls_port, 2990);
    ASSERT_NE(ctx.users.find("ferry"), nullptr);
    EXPECT_EQ(f->server.homes, std::vector<std::string>{f->dir});

    // The certificate is kept: a second start shows the same fingerprint.
    auto again = server::load_folder(r, error);
    ASSERT_TRUE(again) << error.text;
    EXPECT_EQ(again->server.context->current_tls()->fingerprint(), ctx.current_tls()->fingerprint());
    EXPECT_NE(again->password, f->password);
    ::unsetenv("FERRYD_STATE_DIR");
}

TEST(serve_folder, what_cannot_be_served_is_refused) {
    temp_dir state, served;
    ::setenv("FERRYD_STATE_DIR", (state.path / "ferryd").c_str(), 1);
    server::folder_request r;
    r.dir = (served.path / "missing").string();
    server::start_error error;
    EXPECT_FALSE(server::load_folder(r, error));
    EXPECT_EQ(error.text, "'" + r.dir + "' is not a folder");
    EXPECT_EQ(error.exit_status, 2);
    if (::geteuid() == 0) {
        // Started as root with no --runas, a folder of root's is not served as root by default.
        r.dir = served.path.string();
        EXPECT_FALSE(server::load_folder(r, error));
        EXPECT_NE(error.text.find("belongs to root: serve it with --runas root"), std::string::npos) << error.text;
        EXPECT_EQ(error.exit_status, 2);
    }
    ::unsetenv("FERRYD_STATE_DIR");
}
