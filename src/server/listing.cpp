// Directory listings (LIST, NLST, MLSD and STAT with a path) in bounded memory, produced off the
// event threads. A folder is read a batch at a time on the disk pool (readdir, one lstat per entry,
// formatting) and each chunk of text is written to the data connection before the next is made:
// a 100,000-file folder costs one chunk of memory, not a 26 MB string, and the event thread only
// writes. Folders of up to sorted_limit entries come sorted by name as before; bigger ones come
// in the order the file system returns them (sorting them would need them all in memory).
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <ctime>
#include <utility>

#include "proto/reply_code.hpp"
#include "server/detail/listing_source.hpp"
#include "server/session.hpp"

namespace ferry::server {

namespace code = proto::code;

namespace {
constexpr std::size_t sorted_limit = 4096;    // entries read before deciding whether to sort
constexpr std::size_t batch_entries = 512;    // entries read per step after that
constexpr std::size_t chunk_bytes = 64 * 1024;  // text made per step
}  // namespace

void session::listing_source::format(const proto::file_info& e, std::string& out) const {
    switch (style) {
        case 'L': out += proto::format_list_line(e, now); break;
        case 'N': out += e.name; break;
        default: out += proto::format_mlsx(e, facts); break;
    }
    out += "\r\n";
}

std::string session::listing_source::next(std::error_code& ec) {
    std::string out = std::exchange(head, std::string());
    while (out.size() < chunk_bytes) {
        if (next_pending == pending.size()) {
            if (reader_done) break;
            pending = reader.next(batch_entries, ec);
            next_pending = 0;
            if (ec) return {};
            if (pending.empty()) {
                reader_done = true;
                break;
            }
        }
        format(pending[next_pending++], out);
    }
    if (next_pending == pending.size()) {
        pending.clear();
        next_pending = 0;
    }
    return out;
}

asio::awaitable<std::shared_ptr<session::listing_source>> session::open_listing(const std::string& arg, char style,
                                                                                std::string& error, int& c) {
    // "LIST -la dir": ls options are accepted and ignored (hidden files are always listed).
    std::string path = arg;
    while (style != 'M' && path.size() > 1 && path[0] == '-' && path[1] != ' ') {
        auto sp = path.find(' ');
        path = sp == std::string::npos ? "" : path.substr(sp + 1);
    }
    struct opened {
        std::shared_ptr<listing_source> src;
        std::error_code ec;
        bool not_a_dir = false;
    };
    auto src = std::make_shared<listing_source>();
    src->style = style;
    src->facts = facts_;
    src->now = static_cast<std::int64_t>(std::time(nullptr));
    // The stat, the open and the first batch may wait on the disk: on the disk pool.
    // A named job, not a temporary inside co_await: GCC 12 destroys such temporaries twice.
    auto job = [fs = fs_, vp = vpath(path), path, src]() mutable {
        opened o;
        proto::file_info self;
        o.ec = fs->stat(vp, self);
        if (o.ec) return o;
        if (self.type != proto::file_info::kind::dir) {
            if (src->style == 'M') {
                o.not_a_dir = true;
                return o;
            }
            self.name = path;
            src->pending.push_back(std::move(self));
            o.src = src;
            return o;
        }
        if (src->style == 'M') {
            self.name = ".";
            src->head = proto::format_mlsx(self, src->facts) + "\r\n";
        }
        src->reader = fs->read_dir(vp, o.ec);
        if (o.ec) return o;
        src->pending = src->reader.next(sorted_limit, o.ec);
        if (o.ec) return o;
        src->reader_done = src->pending.size() < sorted_limit;
        if (src->reader_done)
            std::sort(src->pending.begin(), src->pending.end(),
                      [](const proto::file_info& a, const proto::file_info& b) { return a.name < b.name; });
        o.src = src;
        return o;
    };
    opened o = co_await on_disk(std::move(job));
    if (o.not_a_dir) {
        c = code::syntax_error_args;
        error = "MLSD needs a directory; use MLST for a file.";
        co_return nullptr;
    }
    if (o.ec) {
        c = code::file_unavailable;
        error = "Cannot list " + (path.empty() ? vpath(path) : path) + ": " + describe_error(o.ec);
        co_return nullptr;
    }
    co_return o.src;
}

asio::awaitable<std::error_code> session::send_listing(listing_source& src, net::data_channel& data) {
    // The source makes the listing a chunk at a time on the disk pool; a chunk larger than the
    // channel's buffer goes out in several pieces.
    std::string chunk;
    std::size_t sent = 0;  // of chunk
    auto produce = [this, &src, &chunk, &sent](char* buf, std::size_t capacity) -> asio::awaitable<net::piece> {
        if (sent == chunk.size()) {
            struct made {
                std::string text;
                std::error_code ec;
            };
            auto job = [&src] {
                made m;
                m.text = src.next(m.ec);
                return m;
            };
            made m = co_await on_bulk(std::move(job));  // a transfer's bytes (worker_pools::bulk)
            if (m.ec) co_return net::piece{0, m.ec};  // a local failure: 451
            chunk = std::move(m.text);
            sent = 0;
        }
        const std::size_t n = std::min(capacity, chunk.size() - sent);
        chunk.copy(buf, n, sent);
        sent += n;
        co_return net::piece{n, {}};
    };
    co_return co_await data.send_all(produce);
}

asio::awaitable<void> session::cmd_list(const std::string& arg) { co_await start_listing(arg, 'L'); }
asio::awaitable<void> session::cmd_nlst(const std::string& arg) { co_await start_listing(arg, 'N'); }
asio::awaitable<void> session::cmd_mlsd(const std::string& arg) { co_await start_listing(arg, 'M'); }

}  // namespace ferry::server
