#pragma once
// ferry get --segments N: one file over N sessions at once, each fetching one byte range with
// RANG (draft-bryan-ftp-range) into its place in a temporary file, which is renamed over the
// target only when every range is complete. One TCP stream cannot fill a long fat link (its
// window, or a shaper per flow); N streams can, as lftp's `pget -n` does.
#include <asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/data_io.hpp"
#include "client/error.hpp"
#include "client/session.hpp"

namespace ferry::client {

struct byte_range {
    std::uint64_t start = 0, end = 0;  // [start, end)
    bool operator==(const byte_range&) const = default;
};

// At most n ranges of at least min_size bytes each (so a small file is not cut into slivers),
// in order, covering [0, size) exactly; the first ones take the remainder.
std::vector<byte_range> split_ranges(std::uint64_t size, unsigned n, std::uint64_t min_size = 1u << 20);

// Writes one range of a file at its own offsets (pwrite, so ranges share one descriptor);
// bytes past the range's end are an error, not written: a server ignoring RANG must not
// overwrite the next range.
class range_sink : public data_sink {
public:
    range_sink(int fd, byte_range r) : fd_(fd), range_(r), pos_(r.start) {}
    bool write(const char* data, std::size_t n, std::string& error) override;
    std::uint64_t written() const { return pos_ - range_.start; }
    bool complete() const { return pos_ == range_.end; }
    bool overflowed() const { return overflowed_; }

private:
    int fd_;
    byte_range range_;
    std::uint64_t pos_;
    bool overflowed_ = false;
};

// Downloads remote (size bytes) to local over the given sessions, logged in and in binary mode,
// one range each (fewer when the file is small). The temporary file is "<local>.ferry-segments";
// it is removed when any range fails. progress gets the bytes of all ranges together.
// range_ignored: a range came back longer or shorter than asked although the transfer ended
// well (ProFTPD 1.3.8 sends other bytes than its 350 promises): the caller may fetch it whole.
// check (when set) sees the whole temporary file before it is renamed; a failure keeps the
// target as it was (get --verify: the server's HASH).
using file_check = std::function<asio::awaitable<outcome>(const std::string& path)>;
asio::awaitable<outcome> segmented_get(std::vector<session*> sessions, const std::string& remote,
                                       const std::string& local, std::uint64_t size, progress_fn progress,
                                       bool& range_ignored, file_check check = {});

}  // namespace ferry::client
