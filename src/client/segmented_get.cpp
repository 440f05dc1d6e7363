#include "client/segmented_get.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace ferry::client {

std::vector<byte_range> split_ranges(std::uint64_t size, unsigned n, std::uint64_t min_size) {
    if (n == 0) n = 1;
    if (min_size == 0) min_size = 1;
    std::uint64_t count = std::max<std::uint64_t>(1, std::min<std::uint64_t>(n, size / min_size));
    std::vector<byte_range> out;
    const std::uint64_t each = size / count, extra = size % count;
    std::uint64_t at = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t len = each + (i < extra ? 1 : 0);
        out.push_back({at, at + len});
        at += len;
    }
    return out;
}

bool range_sink::write(const char* data, std::size_t n, std::string& error) {
    if (n > range_.end - pos_) {
        overflowed_ = true;
        error = "the server sent more than the range asked for (it may not honour RANG)";
        return false;
    }
    while (n > 0) {
        ssize_t w = ::pwrite(fd_, data, n, static_cast<off_t>(pos_));
        if (w < 0) {
            if (errno == EINTR) continue;
            error = std::string("cannot write the download: ") + std::strerror(errno);
            return false;
        }
        data += w;
        n -= static_cast<std::size_t>(w);
        pos_ += static_cast<std::uint64_t>(w);
    }
    return true;
}

namespace {

struct shared_state {
    std::vector<std::uint64_t> done;
    bool range_ignored = false;
    std::vector<outcome> results;
    std::size_t running = 0;
    progress_fn progress;
    std::uint64_t size = 0;
};

asio::awaitable<void> fetch_range(session& s, std::string remote, int fd, byte_range r, std::size_t i,
                                  std::shared_ptr<shared_state> st) {
    range_sink sink(fd, r);
    // RANG's end is inclusive. An empty file has one empty range: a plain RETR.
    outcome o = outcome::ok();
    if (r.end > r.start) {
        std::string rang = "RANG " + std::to_string(r.start) + " " + std::to_string(r.end - 1);
        proto::reply rep;
        o = co_await s.raw(rang, rep);
        if (o && rep.code != 350)  // draft-bryan-ftp-range: 350, like REST
            o = outcome::fail(errc::server_refused, rang + ": the server replied " + rep.text(), rep.code);
    }
    if (o) {
        auto progress = [st, i](std::uint64_t done, std::uint64_t) {
            st->done[i] = done;
            std::uint64_t sum = 0;
            for (auto d : st->done) sum += d;
            if (st->progress) st->progress(sum, st->size);
        };
        o = co_await s.retrieve(remote, sink, 0, r.end - r.start, progress);
    }
    if (sink.overflowed() || (o && !sink.complete())) st->range_ignored = true;
    if (o && !sink.complete())
        o = outcome::fail(errc::transfer_failed, "range " + std::to_string(r.start) + "-" + std::to_string(r.end) +
                                                     " of " + remote + " ended after " +
                                                     std::to_string(sink.written()) + " bytes");
    st->results[i] = o;
}

}  // namespace

asio::awaitable<outcome> segmented_get(std::vector<session*> sessions, const std::string& remote,
                                       const std::string& local, std::uint64_t size, progress_fn progress,
                                       bool& range_ignored, file_check check) {
    range_ignored = false;
    const std::vector<byte_range> ranges = split_ranges(size, static_cast<unsigned>(sessions.size()));
    const std::string part = local + ".ferry-segments";
    // SECURITY: a symlink planted under the temporary name is not followed.
    int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) co_return outcome::fail(errc::local_file_error, "cannot write " + part + ": " + std::strerror(errno));
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
        const int e = errno;
        ::close(fd);
        ::unlink(part.c_str());
        co_return outcome::fail(errc::local_file_error, "cannot make room for " + part + ": " + std::strerror(e));
    }

    auto st = std::make_shared<shared_state>();
    st->done.assign(ranges.size(), 0);
    st->results.assign(ranges.size(), outcome::ok());
    st->running = ranges.size();
    st->progress = std::move(progress);
    st->size = size;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < ranges.size(); ++i)
        asio::co_spawn(ex, fetch_range(*sessions[i], remote, fd, ranges[i], i, st), [st, &all_done](std::exception_ptr e) {
            if (e) st->results[0] = outcome::fail(errc::transfer_failed, "a segment ended with an internal error");
            if (--st->running == 0) all_done.cancel();
        });
    std::error_code ec;
    if (st->running > 0) co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));

    range_ignored = st->range_ignored;
    outcome result = outcome::ok();  // the first range's failure, if any
    for (const outcome& o : st->results)
        if (!o) {
            result = o;
            break;
        }
    const bool closed = ::close(fd) == 0;
    if (!result) {
        ::unlink(part.c_str());
        co_return result;
    }
    if (!closed) {
        ::unlink(part.c_str());
        co_return outcome::fail(errc::local_file_error, "cannot write " + part);
    }
    if (check) {
        outcome checked = co_await check(part);
        if (!checked) {
            ::unlink(part.c_str());
            co_return checked;
        }
    }
    if (std::rename(part.c_str(), local.c_str()) != 0) {
        const int e = errno;
        ::unlink(part.c_str());
        co_return outcome::fail(errc::local_file_error, "cannot rename " + part + " to " + local + ": " + std::strerror(e));
    }
    co_return outcome::ok();
}

}  // namespace ferry::client
