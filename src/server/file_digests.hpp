#pragma once
// File digests for HASH and the X* forms (hash_commands.cpp). A digest reads the whole file, so
// it runs on its own small pool (the disk pool stays free for listings and opens) and is
// remembered per file identity: a mirror that asks again about an unchanged file gets the answer
// without a read. The identity includes the change time, which every write and every utime
// moves, so a file rewritten with its old size and modification time put back is read again.
#include <sys/types.h>

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>

#include "tls/digest.hpp"
#include "vfs/root.hpp"

namespace ferry::server {

struct file_identity {
    dev_t dev = 0;
    ino_t ino = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    bool operator==(const file_identity&) const = default;
};

// Least recently used digests, shared by every session (thread-safe).
class digest_cache {
public:
    struct key {
        file_identity file;
        tls::digest_algorithm algo;
        std::uint64_t start, end;
        bool operator==(const key&) const = default;
    };
    explicit digest_cache(std::size_t capacity = 4096) : capacity_(capacity) {}
    std::optional<std::string> find(const key& k);
    void store(const key& k, std::string hex);

private:
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept;
    };
    using entry = std::pair<key, std::string>;
    std::mutex mutex_;
    std::size_t capacity_;
    std::list<entry> order_;  // most recently used first
    std::unordered_map<key, std::list<entry>::iterator, key_hash> index_;
};

struct file_digest_result {
    std::string hex;
    std::uint64_t start = 0, end = 0;  // the bytes hashed: [start, end)
    bool cached = false;
    bool changed = false;  // the file changed while it was read: no digest
    bool not_a_file = false;
    std::error_code ec;
};

enum class end_past_file { refuse, clip };

// Opens vpath below fs and hashes bytes [start, end) (end unset: to the end of the file), through
// the cache. Blocking: run it on a pool. An end past the file is refused (std::errc::
// invalid_argument) or clipped to it; a start past the end (or at it, in a non-empty file) is refused.
file_digest_result compute_file_digest(const vfs::root& fs, const std::string& vpath, tls::digest_algorithm algo,
                                       std::uint64_t start, std::optional<std::uint64_t> end, end_past_file past,
                                       digest_cache& cache);

}  // namespace ferry::server
