#include "tls/digest.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <stdexcept>
#include <vector>

namespace ferry::tls {

namespace {

constexpr std::array<std::uint32_t, 256> crc32_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto crc_table = crc32_table();

const EVP_MD* md_of(digest_algorithm a) {
    switch (a) {
        case digest_algorithm::sha1: return EVP_sha1();
        case digest_algorithm::sha256: return EVP_sha256();
        case digest_algorithm::sha512: return EVP_sha512();
        case digest_algorithm::md5: return EVP_md5();
        case digest_algorithm::crc32: return nullptr;
    }
    return nullptr;
}

void no_ctx(evp_md_ctx_st*) {}

}  // namespace

std::string_view digest_name(digest_algorithm a) {
    switch (a) {
        case digest_algorithm::sha1: return "SHA-1";
        case digest_algorithm::sha256: return "SHA-256";
        case digest_algorithm::sha512: return "SHA-512";
        case digest_algorithm::md5: return "MD5";
        case digest_algorithm::crc32: return "CRC32";
    }
    return "?";
}

std::optional<digest_algorithm> parse_digest_name(std::string_view name) {
    std::string n;
    for (char c : name)
        if (c != '-') n += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (n == "SHA1") return digest_algorithm::sha1;
    if (n == "SHA256") return digest_algorithm::sha256;
    if (n == "SHA512") return digest_algorithm::sha512;
    if (n == "MD5") return digest_algorithm::md5;
    if (n == "CRC32") return digest_algorithm::crc32;
    return std::nullopt;
}

digest::digest(digest_algorithm a) : ctx_(nullptr, no_ctx) {
    if (const EVP_MD* md = md_of(a)) {
        ctx_ = {EVP_MD_CTX_new(), EVP_MD_CTX_free};
        if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1) throw std::runtime_error("EVP_DigestInit_ex failed");
    }
}

digest::~digest() = default;
digest::digest(digest&&) noexcept = default;
digest& digest::operator=(digest&&) noexcept = default;

void digest::update(const void* data, std::size_t len) {
    if (ctx_) {
        EVP_DigestUpdate(ctx_.get(), data, len);
        return;
    }
    auto* p = static_cast<const unsigned char*>(data);
    std::uint32_t c = crc_;
    for (std::size_t i = 0; i < len; ++i) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    crc_ = c;
}

std::string digest::hex_final() {
    static constexpr char hex[] = "0123456789abcdef";
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (ctx_) {
        EVP_DigestFinal_ex(ctx_.get(), out, &len);
    } else {
        std::uint32_t c = crc_ ^ 0xFFFFFFFFu;
        for (int i = 0; i < 4; ++i) out[len++] = static_cast<unsigned char>(c >> (24 - 8 * i));
    }
    std::string s;
    s.reserve(2 * len);
    for (unsigned i = 0; i < len; ++i) {
        s += hex[out[i] >> 4];
        s += hex[out[i] & 0xF];
    }
    return s;
}

std::string digest_file(int fd, digest_algorithm a, std::uint64_t start, std::uint64_t end, std::error_code& ec) {
    ec.clear();
    digest d(a);
    std::vector<unsigned char> buf(256 * 1024);
    std::uint64_t pos = start;
    while (pos < end) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end - pos));
        ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
        if (n < 0) {
            if (errno == EINTR) continue;
            ec = {errno, std::generic_category()};
            return {};
        }
        if (n == 0) {
            ec = std::make_error_code(std::errc::invalid_argument);
            return {};
        }
        d.update(buf.data(), static_cast<std::size_t>(n));
        pos += static_cast<std::uint64_t>(n);
    }
    return d.hex_final();
}

}  // namespace ferry::tls
