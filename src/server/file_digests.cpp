#include "server/file_digests.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <functional>

namespace ferry::server {

namespace {

file_identity identity_of(const struct stat& st) {
    auto ns = [](const timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; };
    return {st.st_dev, st.st_ino, static_cast<std::uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

}  // namespace

std::size_t digest_cache::key_hash::operator()(const key& k) const noexcept {
    std::size_t h = std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(k.file.ino));
    auto mix = [&h](std::uint64_t v) { h ^= std::hash<std::uint64_t>{}(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
    mix(static_cast<std::uint64_t>(k.file.dev));
    mix(k.file.size);
    mix(static_cast<std::uint64_t>(k.file.mtime_ns));
    mix(static_cast<std::uint64_t>(k.algo));
    mix(k.start);
    mix(k.end);
    return h;
}

std::optional<std::string> digest_cache::find(const key& k) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(k);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
}

void digest_cache::store(const key& k, std::string hex) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mutex_);
    if (auto it = index_.find(k); it != index_.end()) {
        it->second->second = std::move(hex);
        order_.splice(order_.begin(), order_, it->second);
        return;
    }
    order_.emplace_front(k, std::move(hex));
    index_.emplace(k, order_.begin());
    if (order_.size() > capacity_) {
        index_.erase(order_.back().first);
        order_.pop_back();
    }
}

file_digest_result compute_file_digest(const vfs::root& fs, const std::string& vpath, tls::digest_algorithm algo,
                                       std::uint64_t start, std::optional<std::uint64_t> end, end_past_file past,
                                       digest_cache& cache) {
    file_digest_result r;
    vfs::unique_fd fd = fs.open_read(vpath, r.ec);
    if (r.ec == std::errc::is_a_directory) {
        r.ec.clear();
        r.not_a_file = true;
    }
    if (r.ec || r.not_a_file) return r;
    struct stat before {};
    if (::fstat(fd.get(), &before) != 0) {
        r.ec = {errno, std::system_category()};
        return r;
    }
    if (!S_ISREG(before.st_mode)) {
        r.not_a_file = true;
        return r;
    }
    const auto size = static_cast<std::uint64_t>(before.st_size);
    r.start = start;
    r.end = end ? *end : size;
    if (r.end > size && past == end_past_file::clip) r.end = size;
    if (r.end > size || r.start > r.end || (r.start == r.end && r.start != 0)) {
        r.ec = std::make_error_code(std::errc::invalid_argument);
        return r;
    }
    const digest_cache::key k{identity_of(before), algo, r.start, r.end};
    if (auto hit = cache.find(k)) {
        r.hex = std::move(*hit);
        r.cached = true;
        return r;
    }
    r.hex = tls::digest_file(fd.get(), algo, r.start, r.end, r.ec);
    if (r.ec) return r;
    struct stat after {};
    // SECURITY (integrity): a digest of bytes that changed under the read would vouch for a file
    // that never existed; the client is told to ask again instead.
    if (::fstat(fd.get(), &after) != 0 || !(identity_of(after) == k.file)) {
        r.hex.clear();
        r.changed = true;
        return r;
    }
    cache.store(k, r.hex);
    return r;
}

}  // namespace ferry::server
