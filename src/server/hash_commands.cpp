// HASH (draft-bryan-ftpext-hash) with OPTS HASH to choose the algorithm and RANG
// (draft-bryan-ftp-range) for a byte range, and the one-algorithm forms other servers offer
// (XSHA1, XSHA256, XSHA512, XMD5, XCRC). The digests come from file_digests.hpp: on their own
// pool, through the cache shared by every session.
#include <string>

#include "proto/command.hpp"
#include "proto/reply_code.hpp"
#include "server/command_table.hpp"
#include "server/detail/parse_number.hpp"
#include "server/file_digests.hpp"
#include "server/session.hpp"

namespace ferry::server {

namespace code = proto::code;
using detail::parse_u64;

namespace {

constexpr tls::digest_algorithm hash_choices[] = {tls::digest_algorithm::sha1, tls::digest_algorithm::sha256,
                                                  tls::digest_algorithm::sha512, tls::digest_algorithm::md5};

std::string choices_text() {
    std::string s;
    for (auto a : hash_choices) s += (s.empty() ? "" : ";") + std::string(tls::digest_name(a));
    return s;
}

// "XSHA1 name 100 200": the last two words as a byte range [start, end), when they are numbers.
bool split_range(const std::string& arg, std::string& path, std::uint64_t& start, std::uint64_t& end) {
    auto sp2 = arg.rfind(' ');
    if (sp2 == std::string::npos || sp2 == 0) return false;
    auto sp1 = arg.rfind(' ', sp2 - 1);
    if (sp1 == std::string::npos || sp1 == 0) return false;
    if (!parse_u64(std::string_view(arg).substr(sp1 + 1, sp2 - sp1 - 1), start) ||
        !parse_u64(std::string_view(arg).substr(sp2 + 1), end))
        return false;
    path = arg.substr(0, sp1);
    return true;
}

}  // namespace

std::vector<std::string> hash_features(tls::digest_algorithm current) {
    std::string hash = "HASH ";
    for (auto a : hash_choices) {
        if (hash.size() > 5) hash += ';';
        hash += tls::digest_name(a);
        if (a == current) hash += '*';
    }
    return {hash, "XCRC filename;start;end", "XMD5 filename;start;end", "XSHA1 filename;start;end",
            "XSHA256 filename;start;end", "XSHA512 filename;start;end"};
}

asio::awaitable<void> session::opts_hash(const std::string& choice) {
    if (!cfg_.hash_commands) {
        co_await reply(code::not_implemented, "HASH is switched off here (HASHCOMMANDS FALSE).");
        co_return;
    }
    if (choice.empty()) {
        co_await reply(code::ok, std::string(tls::digest_name(hash_algo_)));
        co_return;
    }
    auto a = tls::parse_digest_name(choice);
    if (!a || *a == tls::digest_algorithm::crc32) {
        co_await reply(code::syntax_error_args, "Unknown hash algorithm; choose one of " + choices_text() + ".");
        co_return;
    }
    hash_algo_ = *a;
    co_await reply(code::ok, std::string(tls::digest_name(*a)));
}

asio::awaitable<void> session::cmd_rang(const std::string& arg) {
    auto sp = arg.find(' ');
    std::uint64_t start, end;
    if (sp == std::string::npos || !parse_u64(std::string_view(arg).substr(0, sp), start) ||
        !parse_u64(std::string_view(arg).substr(sp + 1), end)) {
        co_await reply(code::syntax_error_args, "RANG takes a start and an end byte (RANG 0 99), or RANG 1 0 to clear.");
        co_return;
    }
    restart_ = 0;
    if (start == 1 && end == 0) {
        range_.reset();
        co_await reply(code::pending_more_info, "Range cleared: transfers and HASH cover whole files again.");
        co_return;
    }
    if (end < start) {
        co_await reply(code::syntax_error_args, "RANG end must not be before its start (RANG 1 0 clears).");
        co_return;
    }
    range_.emplace(start, end);
    co_await reply(code::pending_more_info, "Restarting at " + std::to_string(start) + ". Ending at " +
                                                std::to_string(end) + ". Send RETR or HASH.");
}

asio::awaitable<bool> session::refuse_range_for_upload() {
    if (!range_) co_return false;
    range_.reset();
    co_await reply(code::bad_sequence, "RANG applies to RETR and HASH only; the range is cleared, send the upload again.");
    co_return true;
}

asio::awaitable<void> session::cmd_hash(const std::string& arg) {
    if (!cfg_.hash_commands) {
        co_await reply(code::not_implemented, "HASH is switched off here (HASHCOMMANDS FALSE).");
        co_return;
    }
    std::optional<std::pair<std::uint64_t, std::uint64_t>> range = range_;
    range_.reset();
    const std::uint64_t start = range ? range->first : 0;
    // RANG's end is inclusive, the digest's is not; a RANG past the end of the file stops at it.
    std::optional<std::uint64_t> end;
    if (range) end = range->second + 1;
    auto job = [fs = fs_, p = vpath(arg), algo = hash_algo_, start, end, shared = ctx_->shared] {
        return compute_file_digest(*fs, p, algo, start, end, end_past_file::clip, shared->digests);
    };
    file_digest_result r = co_await on_pool(pools_.digest, std::move(job));
    if (r.not_a_file) {
        co_await reply(code::bad_file_name, arg + ": not a regular file.");
    } else if (r.changed) {
        co_await reply(code::action_not_taken_busy, arg + ": the file changed while it was read; ask again.");
    } else if (r.ec == std::errc::invalid_argument) {
        co_await reply(code::syntax_error_args, "The range starts beyond the end of " + arg + ".");
    } else if (r.ec) {
        co_await reply(code::file_unavailable, "Cannot hash " + arg + ": " + describe_error(r.ec));
    } else {
        metrics::add(counters().file_digests[r.cached ? 1 : 0]);
        co_await reply(code::file_status, std::string(tls::digest_name(hash_algo_)) + " " + std::to_string(r.start) +
                                              "-" + std::to_string(r.end) + " " + r.hex + " " + arg);
    }
}

asio::awaitable<void> session::legacy_digest(const std::string& arg, tls::digest_algorithm algo) {
    if (!cfg_.hash_commands) {
        co_await reply(code::not_implemented, "Digests are switched off here (HASHCOMMANDS FALSE).");
        co_return;
    }
    // "NAME START END" names the bytes [START, END) of NAME, unless a file is called that.
    auto job = [fs = fs_, whole = vpath(arg), arg, cwd = cwd_, algo, shared = ctx_->shared] {
        file_digest_result r = compute_file_digest(*fs, whole, algo, 0, std::nullopt, end_past_file::refuse, shared->digests);
        std::string name;
        std::uint64_t start, end;
        if (r.ec == std::errc::no_such_file_or_directory && split_range(arg, name, start, end))
            r = compute_file_digest(*fs, vfs::resolve(cwd, name), algo, start, end, end_past_file::refuse,
                                    shared->digests);
        return r;
    };
    file_digest_result r = co_await on_pool(pools_.digest, std::move(job));
    if (r.not_a_file) {
        co_await reply(code::file_unavailable, arg + ": not a regular file.");
    } else if (r.changed) {
        co_await reply(code::action_not_taken_busy, arg + ": the file changed while it was read; ask again.");
    } else if (r.ec == std::errc::invalid_argument) {
        co_await reply(code::syntax_error_args, "The byte range is not inside the file (START END, END excluded).");
    } else if (r.ec) {
        co_await reply(code::file_unavailable, "Cannot hash " + arg + ": " + describe_error(r.ec));
    } else {
        metrics::add(counters().file_digests[r.cached ? 1 : 0]);
        co_await reply(code::file_action_ok, r.hex);
    }
}

asio::awaitable<void> session::cmd_xsha1(const std::string& arg) { return legacy_digest(arg, tls::digest_algorithm::sha1); }
asio::awaitable<void> session::cmd_xsha256(const std::string& arg) {
    return legacy_digest(arg, tls::digest_algorithm::sha256);
}
asio::awaitable<void> session::cmd_xsha512(const std::string& arg) {
    return legacy_digest(arg, tls::digest_algorithm::sha512);
}
asio::awaitable<void> session::cmd_xmd5(const std::string& arg) { return legacy_digest(arg, tls::digest_algorithm::md5); }
asio::awaitable<void> session::cmd_xcrc(const std::string& arg) { return legacy_digest(arg, tls::digest_algorithm::crc32); }

}  // namespace ferry::server
