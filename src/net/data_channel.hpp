#pragma once
// One FTP data connection, for ferryd and ferry alike, once it is open (a passive accept or an
// active connect: passive_listener.hpp): its TLS protection, the moving of bytes with TYPE A
// conversion and a count that feeds the stall watchdog and the progress line, and its end
// (close_notify, FIN, a bounded drain) or abort. Both sides' transfers are loops of calls into
// it; what each side decides around it (replies, the reuse check, certificate checks) stays
// with that side.
//
// The moving is pipelined: while one piece goes out, the next is produced (read from a file,
// on a worker thread in the server), and while one piece is consumed (written to a file), the
// next is received. Producers and consumers are coroutines, so either side picks where its
// file work runs.
#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>

#include "net/pacer.hpp"
#include "net/priority_loop.hpp"
#include "net/transfer_buffer.hpp"
#include "proto/ascii.hpp"
#include "tls/client_context.hpp"
#include "tls/context.hpp"
#include "tls/stream.hpp"

namespace ferry::net {

// One piece a producer made: bytes in the buffer it was given (0: the end), or an error.
struct piece {
    std::size_t bytes = 0;
    std::error_code ec;
};

class data_channel {
public:
    // Large enough that one read fills many 16 KiB TLS records, small enough to stay in cache.
    static constexpr std::size_t buffer_size = 256 * 1024;
    static_assert(buffer_size <= transfer_buffer::capacity);

    explicit data_channel(std::unique_ptr<tls::stream> stream) : stream_(std::move(stream)) {}
    explicit data_channel(asio::ip::tcp::socket socket) : stream_(std::make_unique<tls::stream>(std::move(socket))) {}

    tls::stream& stream() { return *stream_; }
    bool secure() const { return stream_->secure(); }

    // ---- protection ----
    // Server side: the handshake, then `tickets` TLS 1.3 tickets on this connection.
    asio::awaitable<std::error_code> protect_as_server(const tls::context& ctx, int tickets);
    // Client side: the handshake offering the control connection's session (slot) for resumption.
    asio::awaitable<std::error_code> protect_as_client(const tls::client_context& ctx, const std::string& sni,
                                                       tls::session_slot* slot);
    // Why the handshake (or the last TLS operation) failed.
    const std::string& tls_error() const { return stream_->last_error(); }

    // ---- moving bytes ----
    // Called with the size of every piece that crossed the connection (before TYPE A conversion
    // on receipt, after it on sending): the stall watchdog's touch, byte counts, progress.
    void on_moved(std::function<void(std::size_t)> f) { on_moved_ = std::move(f); }
    std::uint64_t moved() const { return moved_; }
    // DOWNLOADRATE / UPLOADRATE: at most this many bytes a second from now on (0: no limit).
    void pace(std::uint64_t bytes_per_second);
    // TYPE A: LF becomes CRLF on sending, CRLF becomes LF on receipt.
    void set_ascii(bool ascii) { ascii_ = ascii; }
    // A short read is usually a file's end: acknowledge it at once (a sender with Nagle on holds
    // its close_notify until its data is acknowledged; a delayed ACK costs 40 ms per file).
    void set_quick_ack_on_short_reads(bool on) { quick_ack_ = on; }

    // Sends what produce(buffer, capacity) -> awaitable<piece> makes, until it makes 0 bytes.
    template <class Produce>
    asio::awaitable<std::error_code> send_all(Produce produce);
    // Receives until the peer's end, handing each piece to consume(data, n) ->
    // awaitable<std::error_code>; the next piece is received while one is consumed.
    template <class Consume>
    asio::awaitable<std::error_code> receive_all(Consume consume);
    // Kernel sendfile of count bytes from fd at offset (a clear binary download), in slices run
    // by run(job) -> awaitable<piece> (where blocking file reads may go). A file that ends early
    // gives io_error with *shrank set.
    template <class Run>
    asio::awaitable<std::error_code> send_file(int fd, std::uint64_t offset, std::uint64_t count, Run run,
                                               bool& shrank);

    // ---- the end ----
    // The sender's end: close_notify (if TLS) and FIN; then drain_and_close, now or beside.
    asio::awaitable<void> finish_sending() { co_await stream_->finish_sending(); }
    // Reads until the peer closes (bounded: 64 reads; the caller bounds the time), then closes,
    // so that unread bytes never turn our FIN into a RST that destroys what the peer has not
    // read.
    asio::awaitable<void> drain_and_close() { co_await stream_->drain_and_close(); }
    // An uploading client's end: close_notify and FIN, then reads through TLS until the server
    // closes (within `limit`), taking in session tickets it sent on this connection.
    asio::awaitable<void> finish_upload(std::chrono::seconds limit);
    // A downloading client's end, after the server's: our close_notify (within `limit`), close.
    asio::awaitable<void> finish_download(std::chrono::seconds limit);
    // Ends whatever waits on the connection now (ABOR, DATACTTIME, Ctrl-C), and every moving of
    // bytes after it: an abort that comes while no read or write is pending (a piece is being
    // written to or read from the disk) would otherwise let the loop start the next read and
    // wait on a client that, having sent ABOR, sends nothing more.
    void abort();
    bool aborted() const { return aborted_; }
    // A reset instead of a FIN: the peer cannot take a cut-off upload for a whole one.
    void reset();
    void close() { stream_->close(); }

    // One trip of kernel sendfile: as much of [offset, offset + n) as the socket takes now (a
    // blocking file read: send_file hands it to its run function).
    struct sendfile_trip {
        int sock, fd;
        std::uint64_t offset, n;
        piece operator()() const;
    };

private:
    asio::awaitable<std::error_code> wait_writable();
    void moved(std::size_t n) {
        moved_ += n;
        if (on_moved_) on_moved_(n);
    }
    void quick_ack();
    // Keeps at most unsent_limit bytes queued unsent in the kernel (TCP_NOTSENT_LOWAT). The
    // kernel otherwise lets a download's send buffer grow to 4 MiB (on loopback's 64 KiB
    // segments at once), and a slow reader then holds it all: 500 of them held 1.6 GB, put the
    // host's TCP into memory pressure, and the drops that follow stalled every other
    // connection's transfers. Two pieces: the socket wakes the writer when less than half is
    // left, so each wake-up takes a whole piece (one piece cost 5% of the aggregate with 200
    // busy sessions in wake-ups; two measured the same as no limit).
    void limit_unsent();
    static constexpr int unsent_limit = static_cast<int>(2 * buffer_size);
    // The piece size (smaller under a rate), and the wait that keeps the rate after n bytes.
    std::size_t piece_size(std::size_t most) const { return pacer_ ? pacer_->piece(most) : most; }
    asio::awaitable<void> keep_pace(std::size_t n);

    std::unique_ptr<tls::stream> stream_;
    std::function<void(std::size_t)> on_moved_;
    std::uint64_t moved_ = 0;
    bool ascii_ = false;
    bool quick_ack_ = false;
    bool aborted_ = false;
    std::optional<pacer> pacer_;
    std::unique_ptr<asio::steady_timer> pace_timer_;  // abort() cancels its wait
};

// ---- templates --------------------------------------------------------------------------------

template <class Produce>
asio::awaitable<std::error_code> data_channel::send_all(Produce produce) {
    using namespace asio::experimental::awaitable_operators;
    transfer_buffer buf, next_buf;
    std::unique_ptr<char[]> converted(ascii_ ? new char[buffer_size * 2] : nullptr);
    const std::size_t size = piece_size(buffer_size);
    piece p = co_await produce(buf.get(), size);
    if (p.bytes == size) limit_unsent();  // a big file (a small one never fills the queue)
    for (;;) {
        if (p.ec) co_return p.ec;
        if (p.bytes == 0) co_return std::error_code{};
        if (aborted_) co_return asio::error::operation_aborted;
        const char* out = buf.get();
        std::size_t len = p.bytes;
        if (ascii_) {
            len = proto::lf_to_crlf(buf.get(), len, converted.get());
            out = converted.get();
        }
        // A full piece means a big file: it goes out after the thread's interactive work
        // (priority_loop.hpp); a small file's one piece goes at once.
        if (p.bytes == size) co_await wait_bulk_turn();
        // This piece goes out while the next one is made (into the other buffer).
        // (Named first: GCC 12 mishandles temporaries inside co_await.)
        auto both = stream_->write_all(out, len) && produce(next_buf.get(), size);
        auto [ec, following] = co_await std::move(both);
        if (ec) co_return ec;
        moved(len);
        if (pacer_) co_await keep_pace(len);
        p = following;
        std::swap(buf, next_buf);
    }
}

template <class Consume>
asio::awaitable<std::error_code> data_channel::receive_all(Consume consume) {
    using namespace asio::experimental::awaitable_operators;
    // crlf_to_lf may hold back a CR and give it back in front of the next piece: the buffers
    // hold more than buffer_size.
    static_assert(transfer_buffer::capacity > buffer_size);
    transfer_buffer buf, consumed_buf;
    proto::crlf_to_lf conv;
    const std::size_t size = piece_size(buffer_size);
    std::size_t pending = 0;  // bytes in consumed_buf not yet consumed
    for (;;) {
        if (aborted_) {
            // What was received is still kept (an aborted upload keeps it as its partial).
            if (pending > 0)
                if (auto cec = co_await consume(static_cast<const char*>(consumed_buf.get()), pending)) co_return cec;
            co_return asio::error::operation_aborted;
        }
        std::error_code ec;
        std::size_t n = 0;
        if (pending > 0) {
            auto both = stream_->read_fill(buf.get(), size, ec) &&
                        consume(static_cast<const char*>(consumed_buf.get()), pending);
            auto [got, cec] = co_await std::move(both);
            n = got;
            pending = 0;
            if (cec) co_return cec;
        } else {
            n = co_await stream_->read_fill(buf.get(), size, ec);
        }
        if (ec == asio::error::eof) break;
        if (ec) co_return ec;
        moved(n);
        if (pacer_) co_await keep_pace(n);
        if (quick_ack_ && n < 16384) quick_ack();
        const bool full = n == size;
        if (ascii_) n = conv.convert(buf.get(), n);
        pending = n;
        std::swap(buf, consumed_buf);
        // A full piece means a big upload: the next one waits for its turn (priority_loop.hpp).
        if (full) co_await wait_bulk_turn();
    }
    if (ascii_ && conv.pending_cr()) consumed_buf[pending++] = '\r';
    if (pending > 0) co_return co_await consume(static_cast<const char*>(consumed_buf.get()), pending);
    co_return std::error_code{};
}

template <class Run>
asio::awaitable<std::error_code> data_channel::send_file(int fd, std::uint64_t offset, std::uint64_t count, Run run,
                                                         bool& shrank) {
    // sendfile() in slices, so that the stall watchdog sees progress between them. No
    // limit_unsent() here: each time the socket fills, the next trip hops to a worker thread,
    // and a bound even of 1 MiB cost a fifth of a clear download's speed (measured).
    constexpr std::uint64_t slice_size = 8ull << 20;
    const int sock = stream_->socket().native_handle();
    while (count > 0) {
        if (aborted_) co_return asio::error::operation_aborted;
        const std::uint64_t slice = std::min<std::uint64_t>(count, piece_size(slice_size));
        if (count <= slice) stream_->cork(true);  // the end and the FIN in one segment
        const sendfile_trip trip{sock, fd, offset, slice};
        auto trip_done = run(trip);
        piece r = co_await std::move(trip_done);
        if (r.ec == std::errc::resource_unavailable_try_again || r.ec == std::errc::operation_would_block) {
            if (auto wec = co_await wait_writable()) co_return wec;
            continue;
        }
        if (r.ec) co_return r.ec;
        if (r.bytes == 0) {
            // The file shrank under us (truncated in place): never a complete-looking short file.
            shrank = true;
            co_return std::make_error_code(std::errc::io_error);
        }
        offset += r.bytes;
        count -= r.bytes;
        moved(r.bytes);
        if (pacer_) co_await keep_pace(r.bytes);
    }
    co_return std::error_code{};
}

}  // namespace ferry::net
