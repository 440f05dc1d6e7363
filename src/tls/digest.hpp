#pragma once
// File digests for HASH/XSHA*/XCRC on the server and --verify on the client. OpenSSL computes
// the cryptographic ones (it lives in tls, see tests/layering); CRC-32 is computed here.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

struct evp_md_ctx_st;

namespace ferry::tls {

enum class digest_algorithm { sha1, sha256, sha512, md5, crc32 };

// The IANA hash function textual name the HASH draft uses ("SHA-256", "MD5", "CRC32").
std::string_view digest_name(digest_algorithm a);
// Case-insensitive; also accepts the names without the dash ("SHA256").
std::optional<digest_algorithm> parse_digest_name(std::string_view name);

class digest {
public:
    explicit digest(digest_algorithm a);
    ~digest();
    digest(digest&&) noexcept;
    digest& operator=(digest&&) noexcept;
    digest(const digest&) = delete;
    digest& operator=(const digest&) = delete;

    void update(const void* data, std::size_t len);
    // Lowercase hex of the digest (CRC-32: 8 digits); the object is then spent.
    std::string hex_final();

private:
    std::unique_ptr<evp_md_ctx_st, void (*)(evp_md_ctx_st*)> ctx_;
    std::uint32_t crc_ = 0xFFFFFFFFu;  // CRC-32 when ctx_ is empty
};

// The digest of bytes [start, end) of an open file, read with pread (the offset of fd is left
// alone). A file shorter than end gives std::errc::invalid_argument.
std::string digest_file(int fd, digest_algorithm a, std::uint64_t start, std::uint64_t end, std::error_code& ec);

}  // namespace ferry::tls
