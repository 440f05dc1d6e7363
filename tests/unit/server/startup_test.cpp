// server/startup: trusted files, the private state folder and the insecure-settings warnings.
#include "server/startup.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ferry;

TEST(startup, files_others_can_write_are_refused) {
    temp_dir d;
    auto f = d.path / "users";
    std::ofstream(f) << "alice:x:/srv\n";
    ::chmod(f.c_str(), 0600);
    EXPECT_FALSE(server::check_trusted_file(f, "USERS file", true));
    ::chmod(f.c_str(), 0620);
    auto why = server::check_trusted_file(f, "USERS file", false);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("can be changed by other users (mode 0620)"), std::string::npos) << *why;
    EXPECT_NE(why->find("chmod go-w"), std::string::npos);
    ::chmod(f.c_str(), 0602);
    EXPECT_TRUE(server::check_trusted_file(f, "KEYRING", true));
    EXPECT_FALSE(server::check_trusted_file(d.path / "missing", "KEYRING", true));  // reading it says so
}

TEST(startup, the_state_folder_is_created_private_and_a_shared_one_refused) {
    temp_dir d;
    auto state = d.path / "a" / "ferryd";
    EXPECT_FALSE(server::make_private_dir(state));
    struct stat st{};
    ASSERT_EQ(::stat(state.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ::chmod(state.c_str(), 0777);
    auto why = server::make_private_dir(state);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("can be changed by other users"), std::string::npos) << *why;
}

TEST(startup, insecure_settings_are_named_one_line_each) {
    config::server_settings s;
    s.keyring = "k.pem";
    auto w = server::insecure_settings(s);  // the seed's defaults
    ASSERT_EQ(w.size(), 3u);
    EXPECT_NE(w[0].find("SECURE_FTP ALLOWED"), std::string::npos);
    EXPECT_NE(w[1].find("SECURE_DATACONN CLEAR"), std::string::npos);
    EXPECT_NE(w[2].find("SECURE_SESSION_REUSE ALLOWED"), std::string::npos);
    s.secure = config::secure_ftp::required;
    s.dataconn = config::secure_dataconn::private_;
    s.session_reuse_required = true;
    EXPECT_TRUE(server::insecure_settings(s).empty());
    s.port_ipaddr = config::redirect_policy::redirect;
    s.upload_close_notify_required = false;
    EXPECT_EQ(server::insecure_settings(s).size(), 2u);
    s.sandbox = false;
    EXPECT_NE(server::insecure_settings(s).at(2).find("SANDBOX OFF"), std::string::npos);
    config::server_settings clear;
    EXPECT_NE(server::insecure_settings(clear).at(0).find("no KEYRING"), std::string::npos);
}

TEST(startup, the_confined_process_keeps_the_homes_and_the_tls_folders) {
    temp_dir d;
    fs::create_directories(d.path / "home");
    fs::create_directories(d.path / "tls" / "archive");
    std::ofstream(d.path / "tls" / "archive" / "key1.pem") << "k\n";
    fs::create_directories(d.path / "tls" / "live");
    fs::create_symlink("../archive/key1.pem", d.path / "tls" / "live" / "key.pem");  // certbot's layout
    config::server_settings s;
    s.keyring = (d.path / "tls" / "live" / "key.pem").string();
    auto p = server::paths_after_start(s, {(d.path / "home").string(), (d.path / "gone").string()});
    EXPECT_EQ(p.read_write, std::vector<std::string>{(d.path / "home").string()});  // missing homes left out
    auto has = [&](const fs::path& x) {
        return std::find(p.read_only.begin(), p.read_only.end(), x.string()) != p.read_only.end();
    };
    EXPECT_TRUE(has(d.path / "tls" / "live"));     // a renewed key is a new file in the folder
    EXPECT_TRUE(has(d.path / "tls" / "archive"));  // where the link points
    EXPECT_FALSE(has(d.path / "tls"));
    EXPECT_FALSE(has("/etc"));  // never /etc as a whole
    s.keyring = "/etc/ferry-test-key.pem";  // a key directly in /etc: the file alone
    p = server::paths_after_start(s, {});
    EXPECT_FALSE(has("/etc"));
}

// CRLFILE is re-read on SIGHUP with KEYRING and CAFILE, so its folder stays readable under
// Landlock. Failed before CRLFILE existed (no such setting; a reload could not read the file).
TEST(startup, the_confined_process_can_reread_the_crl_and_ca_files) {
    temp_dir d;
    fs::create_directories(d.path / "tls");
    fs::create_directories(d.path / "ca");
    fs::create_directories(d.path / "revocation");
    std::ofstream(d.path / "tls" / "key.pem") << "k\n";
    std::ofstream(d.path / "ca" / "clients.pem") << "c\n";
    std::ofstream(d.path / "revocation" / "clients.crl") << "r\n";
    config::server_settings s;
    s.keyring = (d.path / "tls" / "key.pem").string();
    s.cafile = (d.path / "ca" / "clients.pem").string();
    s.crlfile = (d.path / "revocation" / "clients.crl").string();
    auto p = server::paths_after_start(s, {});
    auto has = [&](const fs::path& x) {
        return std::find(p.read_only.begin(), p.read_only.end(), x.string()) != p.read_only.end();
    };
    EXPECT_TRUE(has(d.path / "tls"));
    EXPECT_TRUE(has(d.path / "ca"));
    EXPECT_TRUE(has(d.path / "revocation"));
    EXPECT_TRUE(p.read_write.empty());
}

// SIGHUP reads the configuration file, USERS and CERTMAP again: their folders stay readable under
// Landlock (before, a reload of the users under the sandbox could not open the file).
TEST(startup, the_confined_process_can_reread_the_configuration_and_users) {
    temp_dir d;
    fs::create_directories(d.path / "etc");
    fs::create_directories(d.path / "users");
    fs::create_directories(d.path / "map");
    std::ofstream(d.path / "etc" / "ferryd.conf") << "c\n";
    std::ofstream(d.path / "users" / "users") << "u\n";
    std::ofstream(d.path / "map" / "certmap") << "m\n";
    config::server_settings s;
    s.users = (d.path / "users" / "users").string();
    s.certmap = (d.path / "map" / "certmap").string();
    auto p = server::paths_after_start(s, {}, (d.path / "etc" / "ferryd.conf").string());
    auto has = [&](const fs::path& x) {
        return std::find(p.read_only.begin(), p.read_only.end(), x.string()) != p.read_only.end();
    };
    EXPECT_TRUE(has(d.path / "etc"));
    EXPECT_TRUE(has(d.path / "users"));
    EXPECT_TRUE(has(d.path / "map"));
    EXPECT_TRUE(p.read_write.empty());
}
