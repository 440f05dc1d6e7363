// check-config's view of a configuration: every statement with its effective value, and every
// problem instead of only the first.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "config/schema.hpp"
#include "config/settings.hpp"

using namespace ferry::config;

namespace {

std::map<std::string, std::vector<std::string>> values(const server_settings& s) {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& e : effective_values(s)) out[e.keyword].push_back(e.value);
    return out;
}

}  // namespace

// Every server statement of the schema table has an effective value (none "(unknown)"), in table order.
TEST(effective_values, every_statement_of_the_table_is_listed) {
    const server_settings d;
    const auto list = effective_values(d);
    std::vector<std::string> want;
    for (const auto& e : schema())
        if (e.where == side::server) want.emplace_back(e.keyword);
    std::vector<std::string> got;
    for (const auto& v : list) {
        got.push_back(v.keyword);
        EXPECT_NE(v.value, "(unknown)") << v.keyword;
        EXPECT_FALSE(v.value.empty()) << v.keyword;
    }
    EXPECT_EQ(got, want);
}

// Defaults show as the table's default column where that is a value (not prose).
TEST(effective_values, defaults) {
    auto v = values(server_settings{});
    EXPECT_EQ(v["LISTEN"], std::vector<std::string>{"0.0.0.0 21"});
    EXPECT_EQ(v["TLSPORT"][0], "990");
    EXPECT_EQ(v["UMASK"][0], "022");
    EXPECT_EQ(v["SECURE_FTP"][0], "ALLOWED");
    EXPECT_EQ(v["TLSMINVERSION"][0], "TLSV1.2");
    EXPECT_EQ(v["LOGINATTEMPTS"][0], "10 300");
    EXPECT_EQ(v["XFERLOG"][0], "(none)");
}

// What a file sets is what is shown, and shown values read back give the same settings
// (rendered, parsed again, rendered: identical).
TEST(effective_values, set_values_round_trip) {
    const std::string text =
        "LISTEN 127.0.0.1 2121\nLISTEN ::1 2121\nTLSPORT 0\nKEYRING k.pem\nUSERS users\nEXTENSIONS AUTH_TLS\n"
        "PASSIVEDATAPORTS 50000 50100\nSECURE_FTP REQUIRED\nSECURE_DATACONN PRIVATE\nUMASK 027\n"
        "PASSIVEADDRESS 10.0.0.1 FOR 192.168.0.0/16\nTLSMINVERSION TLSV1.3\nXFERLOG /var/log/xferlog\n"
        "LOGINATTEMPTS 5 60\nRUNAS ftp\nACTIVEDATAPORT EPHEMERAL\n";
    server_settings s;
    std::string error;
    ASSERT_TRUE(parse_server_settings(text, "f", s, error)) << error;
    auto v = values(s);
    EXPECT_EQ(v["LISTEN"], (std::vector<std::string>{"127.0.0.1 2121", "::1 2121"}));
    EXPECT_EQ(v["UMASK"][0], "027");
    EXPECT_EQ(v["XFERLOG"][0], "/var/log/xferlog");
    EXPECT_EQ(v["PASSIVEADDRESS"][0], "10.0.0.1 FOR 192.168.0.0/16");
    std::string again;
    for (const auto& e : effective_values(s))
        if (e.value.front() != '(') again += e.keyword + " " + e.value + "\n";
    server_settings s2;
    ASSERT_TRUE(parse_server_settings(again, "again", s2, error)) << error << "\n" << again;
    std::vector<std::string> a, b;
    for (const auto& e : effective_values(s)) a.push_back(e.keyword + " " + e.value);
    for (const auto& e : effective_values(s2)) b.push_back(e.keyword + " " + e.value);
    EXPECT_EQ(a, b);
}

// parse_server_settings_all goes on past a wrong statement: every problem, each with file:line.
TEST(effective_values, all_problems_are_reported) {
    server_settings s;
    std::vector<std::string> problems;
    EXPECT_FALSE(parse_server_settings_all("INACTIVE x\nBOGUS 1\nUMASK 999\nINACTIVE 5\nINACTIVE 6\n", "f.conf", s, problems));
    ASSERT_EQ(problems.size(), 5u);  // the wrong INACTIVE on line 1 still counts as given
    EXPECT_EQ(problems[0].rfind("f.conf:1: ", 0), 0u) << problems[0];
    EXPECT_EQ(problems[1].rfind("f.conf:2: unknown statement 'BOGUS'", 0), 0u) << problems[1];
    EXPECT_EQ(problems[2].rfind("f.conf:3: ", 0), 0u) << problems[2];
    EXPECT_EQ(problems[3].rfind("f.conf:4: INACTIVE is given twice", 0), 0u) << problems[3];
    EXPECT_EQ(problems[4].rfind("f.conf:5: INACTIVE is given twice", 0), 0u) << problems[4];
    // Combinations: both reported.
    problems.clear();
    server_settings c;
    EXPECT_FALSE(parse_server_settings_all("EXTENSIONS AUTH_TLS\nSECURE_LOGIN REQUIRED\n", "g", c, problems));
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0].rfind("g:1: EXTENSIONS AUTH_TLS needs a KEYRING", 0), 0u) << problems[0];
    EXPECT_EQ(problems[1].rfind("g:2: SECURE_LOGIN REQUIRED needs CAFILE", 0), 0u) << problems[1];
}
