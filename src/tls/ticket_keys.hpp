#pragma once
// ferryd's own TLS session-ticket keys, rotated (issue 10). OpenSSL's built-in key lives as long
// as the SSL_CTX: one stolen key would decrypt every ticket (and so every resumed session) of the
// process's lifetime. Here a key encrypts tickets for one period (TLSTIMEOUT x 2), decrypts them
// (and asks for a renewed ticket) for one more, and is then wiped.
//
// Several servers behind a load balancer share a secret instead (TICKETKEYFILE, issue 15): the
// key of period n (wall-clock seconds / period) is derived from the secret and n with HKDF, so
// every node encrypts with the same key in the same period and opens the others' tickets. The
// derived keys rotate and are wiped as above; the secret itself stays, and retiring it means
// replacing the file on every node.
#include <array>
#include <cstdint>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

struct ssl_ctx_st;
struct evp_cipher_ctx_st;
struct evp_mac_ctx_st;

namespace ferry::tls {

class ticket_keys {
public:
    using clock = std::function<std::chrono::steady_clock::time_point()>;
    static constexpr std::size_t name_size = 16;

    // period: how long a key encrypts new tickets; clock: injected by tests.
    explicit ticket_keys(std::chrono::seconds period, clock now = std::chrono::steady_clock::now);
    using wall_clock = std::function<std::chrono::system_clock::time_point()>;
    // Keys derived from a shared secret (at least 32 bytes); wall_clock: injected by tests.
    ticket_keys(std::chrono::seconds period, const std::vector<unsigned char>& secret,
                wall_clock wall = std::chrono::system_clock::now);
    ~ticket_keys();
    ticket_keys(const ticket_keys&) = delete;
    ticket_keys& operator=(const ticket_keys&) = delete;

    // Makes ctx encrypt and decrypt its tickets with these keys. The caller keeps *this alive as
    // long as ctx (tls::context holds a shared_ptr).
    void install(ssl_ctx_st* ctx);

    // The callback's two halves (OpenSSL's SSL_CTX_set_tlsext_ticket_key_evp_cb contract):
    // encrypt: fills name and iv, sets up the cipher and HMAC with the current key; 1, or -1.
    int encrypt(unsigned char name[name_size], unsigned char* iv, evp_cipher_ctx_st* cipher, evp_mac_ctx_st* mac);
    // decrypt: 1 current key, 2 previous key (valid, but the client gets a renewed ticket),
    // 0 unknown or retired key (full handshake), -1 error.
    int decrypt(const unsigned char name[name_size], const unsigned char* iv, evp_cipher_ctx_st* cipher,
                evp_mac_ctx_st* mac);

    // Keys held now (0, 1 or 2), for tests.
    std::size_t keys_held() const;

private:
    struct key {
        bool live = false;
        std::chrono::steady_clock::time_point created;
        std::uint64_t period = 0;  // derived keys: which period's key this is
        unsigned char name[name_size];
        unsigned char aes[32];
        unsigned char hmac[32];
    };
    // Drops keys older than two periods and makes a new current key when none is younger than one.
    // Returns the current key, or null if no random bytes could be had. Caller holds mutex_.
    key* current_locked(std::chrono::steady_clock::time_point now);
    // The same for derived keys: keeps this period's key and the previous one's.
    key* current_derived_locked();
    bool derive(key& k, std::uint64_t period) const;
    static void wipe(key& k);

    std::chrono::seconds period_;
    clock now_;
    wall_clock wall_;                     // set: derived keys
    std::array<unsigned char, 64> secret_{};
    std::size_t secret_size_ = 0;
    mutable std::mutex mutex_;
    std::array<key, 2> keys_{};  // fixed storage: key bytes are never copied by a reallocation
};

}  // namespace ferry::tls
