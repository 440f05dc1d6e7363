#include "config/client_settings.hpp"

#include <gtest/gtest.h>

#include "config/schema.hpp"

using namespace ferry::config;

TEST(client_settings, defaults) {
    client_settings s;
    EXPECT_TRUE(s.fwfriendly);
    EXPECT_FALSE(s.epsv4);
    EXPECT_FALSE(s.passive_ignore_addr);
    EXPECT_EQ(s.tls_rfc, tls_rfc_level::draft);
    EXPECT_FALSE(s.secure_implicit_zos);
    EXPECT_EQ(s.keepalive_seconds, 0u);
    EXPECT_TRUE(s.require_tls);
    EXPECT_EQ(s.dataconn, data_protection::private_);
}

TEST(client_settings, file) {
    client_settings s;
    std::string error;
    ASSERT_TRUE(parse_client_settings("; client FTP.DATA\n"
                                      "FWFRIENDLY FALSE\n"
                                      "epsv4 true            ; case does not matter\n"
                                      "PASSIVEIGNOREADDR TRUE\n"
                                      "TLSRFCLEVEL CCCNONOTIFY\n"
                                      "SECUREIMPLICITZOS TRUE\n"
                                      "FTPKEEPALIVE 60\n"
                                      "SECURE_FTP ALLOWED\n"
                                      "SECURE_DATACONN CLEAR\n"
                                      "TLSMINVERSION TLSV1.3\n"
                                      "TLSMAXVERSION ANY\n"
                                      "CIPHERSUITE ECDHE-ECDSA-AES128-GCM-SHA256\n"
                                      "CIPHERSUITE TLS_AES_128_GCM_SHA256\n"
                                      "CAFILE /etc/ca.pem\n"
                                      "CERTFILE me.pem\n"
                                      "KEYFILE me.key\n"
                                      "MYOPENTIME 5\n"
                                      "INACTTIME 6\n"
                                      "DATACTTIME 7\n",
                                      "ftp.data", s, error))
        << error;
    EXPECT_FALSE(s.fwfriendly);
    EXPECT_TRUE(s.epsv4);
    EXPECT_TRUE(s.passive_ignore_addr);
    EXPECT_EQ(s.tls_rfc, tls_rfc_level::cccnonotify);
    EXPECT_TRUE(s.secure_implicit_zos);
    EXPECT_EQ(s.keepalive_seconds, 60u);
    EXPECT_FALSE(s.require_tls);
    EXPECT_EQ(s.dataconn, data_protection::clear);
    EXPECT_EQ(s.tls_min, tls_version::tls1_3);
    EXPECT_EQ(s.ciphers.size(), 2u);
    EXPECT_EQ(s.ca_file, "/etc/ca.pem");
    EXPECT_EQ(s.cert_file, "me.pem");
    EXPECT_EQ(s.key_file, "me.key");
    EXPECT_EQ(s.connect_timeout, 5u);
    EXPECT_EQ(s.reply_timeout, 6u);
    EXPECT_EQ(s.data_timeout, 7u);
}

TEST(client_settings, errors_name_file_and_line_and_change_nothing) {
    client_settings s;
    std::string error;
    EXPECT_FALSE(parse_client_settings("EPSV4 TRUE\nFWFRIENDLY MAYBE\n", "c.conf", s, error));
    EXPECT_NE(error.find("c.conf:2"), std::string::npos) << error;
    EXPECT_NE(error.find("TRUE or FALSE"), std::string::npos) << error;
    EXPECT_FALSE(s.epsv4);  // all or nothing
    EXPECT_FALSE(parse_client_settings("NOSUCH 1\n", "c.conf", s, error));
    EXPECT_NE(error.find("unknown statement 'NOSUCH'"), std::string::npos) << error;
    EXPECT_FALSE(parse_client_settings("EPSV4 TRUE\nEPSV4 FALSE\n", "c.conf", s, error));
    EXPECT_NE(error.find("given twice"), std::string::npos) << error;
    EXPECT_FALSE(parse_client_settings("FTPKEEPALIVE -1\n", "c.conf", s, error));
    EXPECT_FALSE(parse_client_settings("CIPHERSUITE A:B\n", "c.conf", s, error));
    EXPECT_NE(error.find("one cipher"), std::string::npos) << error;
    // Server-only statements are not client statements.
    EXPECT_FALSE(parse_client_settings("PASSIVEDATAPORTS 1 2\n", "c.conf", s, error));
}

TEST(client_settings, cipher_statements_replace_earlier_lists) {
    client_settings s;
    s.ciphers = {"OLD"};
    std::string error;
    ASSERT_TRUE(parse_client_settings("CIPHERSUITE NEW1\nCIPHERSUITE NEW2\n", "f", s, error)) << error;
    ASSERT_EQ(s.ciphers.size(), 2u);
    EXPECT_EQ(s.ciphers[0], "NEW1");
}

TEST(locsite, zos_forms) {
    client_settings s;
    std::string error;
    ASSERT_TRUE(apply_locsite(s, "NOFWFRIENDLY EPSV4 TLSRFCLEVEL=RFC4217", error)) << error;
    EXPECT_FALSE(s.fwfriendly);
    EXPECT_TRUE(s.epsv4);
    EXPECT_EQ(s.tls_rfc, tls_rfc_level::rfc4217);
    ASSERT_TRUE(apply_locsite(s, "fwfriendly passiveignoreaddr", error)) << error;
    EXPECT_TRUE(s.fwfriendly);
    EXPECT_TRUE(s.passive_ignore_addr);
    ASSERT_TRUE(apply_locsite(s, "EPSV4 FALSE FTPKEEPALIVE 30 tlsrfclevel cccnonotify", error)) << error;
    EXPECT_FALSE(s.epsv4);
    EXPECT_EQ(s.keepalive_seconds, 30u);
    EXPECT_EQ(s.tls_rfc, tls_rfc_level::cccnonotify);
    ASSERT_TRUE(apply_locsite(s, "NOPASSIVEIGNOREADDR SECUREIMPLICITZOS=TRUE", error)) << error;
    EXPECT_FALSE(s.passive_ignore_addr);
    EXPECT_TRUE(s.secure_implicit_zos);
}

TEST(locsite, all_or_nothing) {
    client_settings s;
    std::string error;
    EXPECT_FALSE(apply_locsite(s, "EPSV4 TLSRFCLEVEL=SOMETIMES", error));
    EXPECT_NE(error.find("DRAFT or RFC4217 or CCCNONOTIFY"), std::string::npos) << error;
    EXPECT_FALSE(s.epsv4);
    EXPECT_FALSE(apply_locsite(s, "NOSUCH", error));
    EXPECT_NE(error.find("unknown setting"), std::string::npos) << error;
    EXPECT_FALSE(apply_locsite(s, "FTPKEEPALIVE", error));
    EXPECT_NE(error.find("needs a value"), std::string::npos) << error;
    EXPECT_FALSE(apply_locsite(s, "NOFTPKEEPALIVE", error));  // NO only for TRUE/FALSE settings
    EXPECT_FALSE(apply_locsite(s, "", error));
}

TEST(locsite, describe_lists_every_client_statement) {
    client_settings s;
    std::string text = describe_client_settings(s);
    for (const auto& e : schema()) {
        if (e.where != side::client) continue;
        EXPECT_NE(text.find(std::string(e.keyword) + " "), std::string::npos) << e.keyword;
    }
    EXPECT_NE(text.find("FWFRIENDLY TRUE"), std::string::npos);
    EXPECT_NE(describe(side::client).find("PASSIVEIGNOREADDR"), std::string::npos);
}
