#include "tls/ticket_keys.hpp"

#include "tls/detail/openssl.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

namespace ferry::tls {

namespace {

int keys_index() {
    static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

int ticket_key_callback(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac, int enc) {
    auto* keys = static_cast<ticket_keys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keys_index()));
    if (!keys) return enc ? -1 : 0;
    return enc ? keys->encrypt(name, iv, cipher, mac) : keys->decrypt(name, iv, cipher, mac);
}

bool set_hmac_key(EVP_MAC_CTX* mac, unsigned char* key, std::size_t len) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, len),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

}  // namespace

ticket_keys::ticket_keys(std::chrono::seconds period, clock now) : period_(period), now_(std::move(now)) {}

ticket_keys::ticket_keys(std::chrono::seconds period, const std::vector<unsigned char>& secret, wall_clock wall)
    : period_(period), now_(std::chrono::steady_clock::now), wall_(std::move(wall)) {
    // A longer secret has no more strength than a hash of it; 64 bytes hold any sane file.
    secret_size_ = std::min(secret.size(), secret_.size());
    std::memcpy(secret_.data(), secret.data(), secret_size_);
}

ticket_keys::~ticket_keys() {
    for (auto& k : keys_) wipe(k);
    OPENSSL_cleanse(secret_.data(), secret_.size());
}

bool ticket_keys::derive(key& k, std::uint64_t period) const {
    // HKDF-SHA256(secret, salt, info = period number) -> name, AES key, HMAC key.
    unsigned char info[8];
    for (int i = 0; i < 8; ++i) info[i] = static_cast<unsigned char>(period >> (56 - 8 * i));
    unsigned char out[name_size + sizeof k.aes + sizeof k.hmac];
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    EVP_KDF_CTX* kctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
    EVP_KDF_free(kdf);
    if (!kctx) return false;
    char digest[] = "SHA256";
    char salt[] = "ferry TLS ticket keys v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(secret_.data()), secret_size_),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof salt - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info), OSSL_PARAM_construct_end()};
    const bool ok = EVP_KDF_derive(kctx, out, sizeof out, params) == 1;
    EVP_KDF_CTX_free(kctx);
    if (ok) {
        std::memcpy(k.name, out, name_size);
        std::memcpy(k.aes, out + name_size, sizeof k.aes);
        std::memcpy(k.hmac, out + name_size + sizeof k.aes, sizeof k.hmac);
        k.period = period;
        k.live = true;
    }
    OPENSSL_cleanse(out, sizeof out);
    return ok;
}

ticket_keys::key* ticket_keys::current_derived_locked() {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(wall_().time_since_epoch()).count();
    const auto p = static_cast<std::uint64_t>(seconds < 0 ? 0 : seconds) / static_cast<std::uint64_t>(period_.count());
    // SECURITY: as with random keys, a period's key is wiped once two periods have begun since.
    key* current = nullptr;
    bool have_previous = p == 0;
    for (auto& k : keys_) {
        if (!k.live) continue;
        if (k.period == p) current = &k;
        else if (p > 0 && k.period == p - 1) have_previous = true;
        else wipe(k);
    }
    // Both live: the previous period's tickets (maybe from another node) still open.
    for (auto& k : keys_) {
        if (k.live) continue;
        if (!current) {
            if (!derive(k, p)) return nullptr;
            current = &k;
        } else if (!have_previous) {
            have_previous = derive(k, p - 1);
        }
    }
    return current;
}

void ticket_keys::wipe(key& k) {
    OPENSSL_cleanse(&k, sizeof k);
    k.live = false;
}

void ticket_keys::install(SSL_CTX* ctx) {
    SSL_CTX_set_ex_data(ctx, keys_index(), this);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_callback);
}

std::size_t ticket_keys::keys_held() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& k : keys_) n += k.live ? 1 : 0;
    return n;
}

ticket_keys::key* ticket_keys::current_locked(std::chrono::steady_clock::time_point now) {
    if (wall_) return current_derived_locked();
    key* current = nullptr;
    for (auto& k : keys_) {
        if (!k.live) continue;
        // SECURITY: a key is forgotten two periods after it was made: a key stolen later
        // decrypts no ticket of the sessions before it.
        if (now - k.created >= 2 * period_) wipe(k);
        else if (now - k.created < period_ && (!current || k.created > current->created)) current = &k;
    }
    if (current) return current;
    // A new key, in the free slot or over the older one (which the loop above would drop soon).
    key* slot = &keys_[0];
    for (auto& k : keys_)
        if (!k.live || (slot->live && k.created < slot->created)) slot = &k;
    wipe(*slot);
    if (RAND_bytes(slot->name, sizeof slot->name) != 1 || RAND_priv_bytes(slot->aes, sizeof slot->aes) != 1 ||
        RAND_priv_bytes(slot->hmac, sizeof slot->hmac) != 1) {
        wipe(*slot);
        return nullptr;
    }
    slot->created = now;
    slot->live = true;
    return slot;
}

int ticket_keys::encrypt(unsigned char name[name_size], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac) {
    std::lock_guard lock(mutex_);
    key* k = current_locked(now_());
    const EVP_CIPHER* aes = EVP_aes_256_cbc();
    if (!k || RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1) return -1;
    std::memcpy(name, k->name, name_size);
    if (!set_hmac_key(mac, k->hmac, sizeof k->hmac) || EVP_EncryptInit_ex(cipher, aes, nullptr, k->aes, iv) != 1)
        return -1;
    return 1;
}

int ticket_keys::decrypt(const unsigned char name[name_size], const unsigned char* iv, EVP_CIPHER_CTX* cipher,
                         EVP_MAC_CTX* mac) {
    std::lock_guard lock(mutex_);
    auto now = now_();
    key* current = current_locked(now);
    for (auto& k : keys_) {
        if (!k.live || std::memcmp(k.name, name, name_size) != 0) continue;
        if (!set_hmac_key(mac, k.hmac, sizeof k.hmac) ||
            EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes, iv) != 1)
            return -1;
        // The previous period's key still opens its tickets; the client gets one under the current key.
        return &k == current ? 1 : 2;
    }
    return 0;
}

}  // namespace ferry::tls
