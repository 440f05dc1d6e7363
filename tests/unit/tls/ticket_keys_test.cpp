// Session-ticket key rotation (issue 10), with an injected clock. Before ticket_keys existed
// ferryd used OpenSSL's one key for the life of the process: every test here failed (the module
// did not exist; the interop test test_tls_tickets.py shows the same from a client's side).
#include "tls/ticket_keys.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using ferry::tls::ticket_keys;
using name_t = std::array<unsigned char, ticket_keys::name_size>;

struct fake_clock {
    std::chrono::steady_clock::time_point t{std::chrono::steady_clock::time_point{} + 1000h};
    ticket_keys::clock fn() {
        return [this] { return t; };
    }
};

// One callback call with fresh OpenSSL objects; the ciphertext shows which key was set up.
struct call {
    EVP_MAC* mac_alg = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* mac = EVP_MAC_CTX_new(mac_alg);
    EVP_CIPHER_CTX* cipher = EVP_CIPHER_CTX_new();
    std::array<unsigned char, EVP_MAX_IV_LENGTH> iv{};
    ~call() {
        EVP_CIPHER_CTX_free(cipher);
        EVP_MAC_CTX_free(mac);
        EVP_MAC_free(mac_alg);
    }
    std::vector<unsigned char> run(const std::string& text, bool enc) {
        std::vector<unsigned char> out(text.size() + 32);
        int n = 0, m = 0;
        auto* in = reinterpret_cast<const unsigned char*>(text.data());
        if (enc) {
            EXPECT_EQ(EVP_EncryptUpdate(cipher, out.data(), &n, in, static_cast<int>(text.size())), 1);
            EXPECT_EQ(EVP_EncryptFinal_ex(cipher, out.data() + n, &m), 1);
        } else {
            EXPECT_EQ(EVP_DecryptUpdate(cipher, out.data(), &n, in, static_cast<int>(text.size())), 1);
            if (EVP_DecryptFinal_ex(cipher, out.data() + n, &m) != 1) m = 0;
        }
        out.resize(static_cast<std::size_t>(n + m));
        return out;
    }
};

struct ticket {
    name_t name{};
    std::array<unsigned char, EVP_MAX_IV_LENGTH> iv{};
    std::string sealed;
};

ticket issue(ticket_keys& keys) {
    call c;
    ticket t;
    EXPECT_EQ(keys.encrypt(t.name.data(), c.iv.data(), c.cipher, c.mac), 1);
    t.iv = c.iv;
    auto out = c.run("session secrets", true);
    t.sealed.assign(out.begin(), out.end());
    return t;
}

// The callback's answer for a ticket (1 current, 2 renew, 0 refused), after checking that an
// accepted key really opens the ticket.
int open(ticket_keys& keys, const ticket& t) {
    call c;
    int r = keys.decrypt(t.name.data(), t.iv.data(), c.cipher, c.mac);
    if (r > 0) {
        auto plain = c.run(t.sealed, false);
        EXPECT_EQ(std::string(plain.begin(), plain.end()), "session secrets");
    }
    return r;
}

TEST(TicketKeys, OneKeyPerPeriod) {
    fake_clock clk;
    ticket_keys keys(200s, clk.fn());
    ticket a = issue(keys);
    clk.t += 199s;
    ticket b = issue(keys);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(open(keys, a), 1);
    EXPECT_EQ(keys.keys_held(), 1u);
}

TEST(TicketKeys, PreviousKeyStillOpensItsTicketsButAsksForRenewal) {
    fake_clock clk;
    ticket_keys keys(200s, clk.fn());
    ticket a = issue(keys);
    clk.t += 200s;
    ticket b = issue(keys);
    EXPECT_NE(a.name, b.name) << "no new key after one period";
    EXPECT_EQ(open(keys, a), 2);
    EXPECT_EQ(open(keys, b), 1);
    EXPECT_EQ(keys.keys_held(), 2u);
}

TEST(TicketKeys, KeysOlderThanTwoPeriodsAreRefusedAndDropped) {
    fake_clock clk;
    ticket_keys keys(200s, clk.fn());
    ticket a = issue(keys);
    clk.t += 250s;
    ticket b = issue(keys);
    clk.t += 150s;  // a's key is 400 s old: gone; b's is 150 s old: current
    EXPECT_EQ(open(keys, a), 0);
    EXPECT_EQ(open(keys, b), 1);
    EXPECT_EQ(keys.keys_held(), 1u);
    clk.t += 50s;  // b's key 200 s old: previous, and a new current one
    EXPECT_EQ(open(keys, b), 2);
    EXPECT_EQ(keys.keys_held(), 2u);
}

TEST(TicketKeys, AfterALongIdleTimeNoOldKeyIsAccepted) {
    fake_clock clk;
    ticket_keys keys(200s, clk.fn());
    ticket a = issue(keys);
    clk.t += 1000s;
    EXPECT_EQ(open(keys, a), 0);
    ticket b = issue(keys);
    EXPECT_NE(a.name, b.name);
    EXPECT_EQ(keys.keys_held(), 1u);
}

TEST(TicketKeys, UnknownKeyNameIsRefused) {
    fake_clock clk;
    ticket_keys keys(200s, clk.fn());
    ticket a = issue(keys);
    a.name[0] ^= 0xff;
    EXPECT_EQ(open(keys, a), 0);
}

TEST(TicketKeys, RotatesAtMostOncePerPeriodUnderLoad) {
    fake_clock clk;
    ticket_keys keys(10s, clk.fn());
    std::vector<name_t> names;
    for (int i = 0; i < 100; ++i) {
        clk.t += 1s;  // 100 s of tickets, one a second: ten keys at most
        name_t n = issue(keys).name;
        if (names.empty() || names.back() != n) names.push_back(n);
    }
    EXPECT_LE(names.size(), 11u);
    EXPECT_GE(names.size(), 9u);
    EXPECT_LE(keys.keys_held(), 2u);
}

}  // namespace

// Shared keys (TICKETKEYFILE, issue 15): two nodes with one secret, on one wall clock.
namespace {

struct fake_wall {
    std::chrono::system_clock::time_point t{std::chrono::system_clock::time_point{} + 500000h};
    ticket_keys::wall_clock fn() {
        return [this] { return t; };
    }
};

const std::vector<unsigned char> secret_a(48, 0x5a);
const std::vector<unsigned char> secret_b(48, 0xa5);

TEST(SharedTicketKeys, ANodeOpensTheTicketsOfAnotherWithTheSameSecret) {
    fake_wall wall;
    ticket_keys node1(200s, secret_a, wall.fn()), node2(200s, secret_a, wall.fn());
    ticket t = issue(node1);
    EXPECT_EQ(open(node2, t), 1);
    EXPECT_EQ(issue(node2).name, t.name);
}

TEST(SharedTicketKeys, AnotherSecretOpensNothing) {
    fake_wall wall;
    ticket_keys node1(200s, secret_a, wall.fn()), other(200s, secret_b, wall.fn());
    EXPECT_EQ(open(other, issue(node1)), 0);
}

TEST(SharedTicketKeys, RotateWithThePeriodOnEveryNode) {
    fake_wall wall;
    ticket_keys node1(200s, secret_a, wall.fn());
    ticket old = issue(node1);
    wall.t += 200s;
    // A node started only now still opens the previous period's ticket, asking for renewal.
    ticket_keys late(200s, secret_a, wall.fn());
    EXPECT_EQ(open(late, old), 2);
    ticket fresh = issue(late);
    EXPECT_NE(fresh.name, old.name);
    EXPECT_EQ(open(node1, fresh), 1);
    EXPECT_EQ(open(node1, old), 2);
    wall.t += 200s;  // two periods on: the first key is gone on both nodes
    EXPECT_EQ(open(node1, old), 0);
    EXPECT_EQ(open(late, old), 0);
    EXPECT_EQ(open(late, fresh), 2);
    EXPECT_LE(node1.keys_held(), 2u);
}

}  // namespace
