// tls::digest against published test vectors, and digest_file's byte ranges.
#include "tls/digest.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

using ferry::tls::digest;
using ferry::tls::digest_algorithm;

namespace {

std::string of(digest_algorithm a, const std::string& s) {
    digest d(a);
    d.update(s.data(), s.size());
    return d.hex_final();
}

}  // namespace

TEST(Digest, KnownVectorsOfAbc) {
    EXPECT_EQ(of(digest_algorithm::sha256, "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(of(digest_algorithm::sha1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(of(digest_algorithm::md5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(of(digest_algorithm::sha512, "abc").substr(0, 32), "ddaf35a193617abacc417349ae204131");
    // CRC-32 (IEEE 802.3, as zlib and cksfv): the check value of "123456789".
    EXPECT_EQ(of(digest_algorithm::crc32, "123456789"), "cbf43926");
    EXPECT_EQ(of(digest_algorithm::crc32, ""), "00000000");
}

TEST(Digest, UpdatesInPiecesEqualOneUpdate) {
    std::string text(100000, 'x');
    for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>(i * 7);
    for (auto a : {digest_algorithm::sha256, digest_algorithm::crc32}) {
        digest d(a);
        for (std::size_t i = 0; i < text.size(); i += 333) d.update(text.data() + i, std::min<std::size_t>(333, text.size() - i));
        EXPECT_EQ(d.hex_final(), of(a, text));
    }
}

TEST(Digest, NamesParseCaseInsensitivelyWithOrWithoutDash) {
    using ferry::tls::parse_digest_name;
    EXPECT_EQ(parse_digest_name("sha-256"), digest_algorithm::sha256);
    EXPECT_EQ(parse_digest_name("SHA512"), digest_algorithm::sha512);
    EXPECT_EQ(parse_digest_name("md5"), digest_algorithm::md5);
    EXPECT_EQ(parse_digest_name("CRC32"), digest_algorithm::crc32);
    EXPECT_FALSE(parse_digest_name("SHA-3"));
    EXPECT_FALSE(parse_digest_name(""));
    EXPECT_EQ(ferry::tls::digest_name(digest_algorithm::sha256), "SHA-256");
}

TEST(Digest, FileRangesAndShortFiles) {
    char path[] = "/tmp/ferry-digest-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    const std::string text = "0123456789abcdef";
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    std::error_code ec;
    EXPECT_EQ(ferry::tls::digest_file(fd, digest_algorithm::md5, 0, 16, ec), of(digest_algorithm::md5, text));
    EXPECT_FALSE(ec);
    EXPECT_EQ(ferry::tls::digest_file(fd, digest_algorithm::md5, 4, 10, ec), of(digest_algorithm::md5, "456789"));
    EXPECT_FALSE(ec);
    EXPECT_TRUE(ferry::tls::digest_file(fd, digest_algorithm::md5, 0, 17, ec).empty());
    EXPECT_EQ(ec, std::errc::invalid_argument);
    ::close(fd);
}
