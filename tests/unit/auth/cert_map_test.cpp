// CERTMAP parsing and lookup. The issuer= cases are issue 10's "tie subject= to its issuer":
// before, a subject-only line was accepted and matched a certificate from any CA in CAFILE, and
// issuer= was an unknown key; SubjectNeedsIssuer, IssuerIsPartOfTheMatch and
// SubjectAndIssuerMatch failed on that code.
#include "auth/cert_map.hpp"

#include <gtest/gtest.h>

namespace {

using ferry::auth::cert_map;

const std::string fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

TEST(CertMap, FingerprintLine) {
    cert_map m;
    std::string err;
    ASSERT_TRUE(m.parse("alice sha256=" + fp + " ports=21,990\n", "map", err)) << err;
    const auto* e = m.find("sha256:" + fp, "", "");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->user, "alice");
    EXPECT_TRUE(e->allows_port(990));
    EXPECT_FALSE(e->allows_port(2121));
}

TEST(CertMap, SubjectAndIssuerMatch) {
    cert_map m;
    std::string err;
    ASSERT_TRUE(m.parse("# comment\nbob subject=\"CN=bob,O=Test\" issuer=\"CN=Test CA,O=Test\"\n", "map", err)) << err;
    const auto* e = m.find("", "CN=bob,O=Test", "CN=Test CA,O=Test");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->user, "bob");
    EXPECT_EQ(e->issuer, "CN=Test CA,O=Test");
}

TEST(CertMap, IssuerIsPartOfTheMatch) {
    cert_map m;
    std::string err;
    ASSERT_TRUE(m.parse("bob subject=\"CN=bob,O=Test\" issuer=\"CN=Test CA,O=Test\"\n", "map", err)) << err;
    EXPECT_EQ(m.find("", "CN=bob,O=Test", "CN=Other CA,O=Test"), nullptr);
    EXPECT_EQ(m.find("", "CN=bob,O=Test", ""), nullptr);
}

TEST(CertMap, SubjectNeedsIssuer) {
    cert_map m;
    std::string err;
    EXPECT_FALSE(m.parse("alice sha256=" + fp + "\n\nbob subject=\"CN=bob,O=Test\"\n", "/etc/ferry/certmap", err));
    EXPECT_NE(err.find("/etc/ferry/certmap:3:"), std::string::npos) << err;
    EXPECT_NE(err.find("issuer="), std::string::npos) << err;
    EXPECT_EQ(m.size(), 0u);
}

TEST(CertMap, IssuerAloneIsRefused) {
    cert_map m;
    std::string err;
    EXPECT_FALSE(m.parse("bob issuer=\"CN=Test CA\"\n", "map", err));
    EXPECT_NE(err.find("map:1:"), std::string::npos) << err;
}

TEST(CertMap, BadFingerprintAndUnknownKey) {
    cert_map m;
    std::string err;
    EXPECT_FALSE(m.parse("bob sha256=12:34:XY\n", "map", err));
    EXPECT_NE(err.find("map:1:"), std::string::npos) << err;
    EXPECT_FALSE(m.parse("bob colour=blue\n", "map", err));
    EXPECT_NE(err.find("colour=blue"), std::string::npos) << err;
    EXPECT_FALSE(m.parse("bob\n", "map", err));
}

// Found by fuzz_cert_map: a quoted empty first word gave an entry for the user "".
TEST(CertMap, EmptyUserNameIsRefused) {
    cert_map m;
    std::string err;
    EXPECT_FALSE(m.parse("alice sha256=" + fp + "\n\"\" sha256=" + fp + "\n", "map", err));
    EXPECT_NE(err.find("map:2:"), std::string::npos) << err;
    EXPECT_NE(err.find("no user"), std::string::npos) << err;
    EXPECT_EQ(m.size(), 0u);
}

}  // namespace
