// The `mirror` command: walk both trees, plan (mirror_plan.hpp), then carry the plan out:
// folders and removals in order on the first session, transfers over -P sessions at once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/signal_set.hpp>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "client/listing_format.hpp"
#include "client/mirror.hpp"
#include "client/shell.hpp"
#include "proto/listing.hpp"
#include "proto/printable.hpp"

#include "tls/digest.hpp"

namespace fs = std::filesystem;

namespace ferry::client {

namespace {

std::string remote_join(const std::string& base, const std::string& rel) {
    if (rel.empty()) return base;
    if (base.empty()) return rel;
    return base.back() == '/' ? base + rel : base + "/" + rel;
}

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// The whole run's progress, one line on a terminal, at most five times a second.
struct overall_progress {
    bool enabled = false;
    std::uint64_t files_total = 0, bytes_total = 0, files_done = 0, bytes_done = 0;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last{};
    bool shown = false;

    void add(std::uint64_t n) {
        bytes_done += n;
        show(false);
    }
    void file_done() {
        ++files_done;
        show(false);
    }
    void show(bool force) {
        if (!enabled) return;
        auto now = std::chrono::steady_clock::now();
        if (!force && now - last < std::chrono::milliseconds(200)) return;
        last = now;
        double secs = std::chrono::duration<double>(now - start).count();
        std::string line = "mirror: " + std::to_string(files_done) + "/" + std::to_string(files_total) + " files  " +
                           human_bytes(static_cast<double>(bytes_done)) + "/" +
                           human_bytes(static_cast<double>(bytes_total)) + "  " + human_rate(bytes_done, secs);
        if (bytes_done > 0 && bytes_total > bytes_done && secs > 0) {
            auto eta = static_cast<long>(static_cast<double>(bytes_total - bytes_done) * secs / static_cast<double>(bytes_done));
            char buf[32];
            std::snprintf(buf, sizeof buf, "  ETA %ld:%02ld", eta / 60, eta % 60);
            line += buf;
        }
        std::printf("\r%-78s", line.c_str());
        std::fflush(stdout);
        shown = true;
    }
    void finish() {
        if (!shown) return;
        std::printf("\r%78s\r", "");
        std::fflush(stdout);
        shown = false;
    }
};

// A download's temporary file ".NAME.ferry-part", continued from offset or started over.
class part_file final : public data_sink {
public:
    ~part_file() override {
        if (fd_ >= 0) ::close(fd_);
    }
    outcome open(const std::string& path, std::uint64_t& offset) {
        // SECURITY: path escape: a link planted under the temporary name is not followed.
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);  // read back by --verify
        if (fd_ < 0) return outcome::fail(errc::local_file_error, sys_error("cannot write " + path));
        struct stat st;
        if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode))
            return outcome::fail(errc::local_file_error, path + " is not a regular file");
        if (static_cast<std::uint64_t>(st.st_size) != offset) offset = 0;  // changed since the plan: start over
        if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0 || ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0)
            return outcome::fail(errc::local_file_error, sys_error("cannot write " + path));
        path_ = path;
        return outcome::ok();
    }
    bool write(const char* p, std::size_t n, std::string& error) override {
        while (n > 0) {
            ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                error = sys_error("cannot write " + path_);
                return false;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    }
    int fd() const { return fd_; }
    outcome finish(std::int64_t mtime, const std::string& target) {
        struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(mtime), 0}};
        if (::futimens(fd_, times) != 0) return outcome::fail(errc::local_file_error, sys_error("cannot set the time of " + path_));
        int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) return outcome::fail(errc::local_file_error, sys_error("cannot write " + path_));
        if (std::rename(path_.c_str(), target.c_str()) != 0)
            return outcome::fail(errc::local_file_error, sys_error("cannot rename " + path_ + " to " + target));
        return outcome::ok();
    }

private:
    int fd_ = -1;
    std::string path_;
};

std::optional<std::string> local_sha256(int fd, std::uint64_t size, std::string& error) {
    std::error_code ec;
    std::string hex = tls::digest_file(fd, tls::digest_algorithm::sha256, 0, size, ec);
    if (ec) {
        error = "cannot compute the local SHA-256: " + ec.message();
        return std::nullopt;
    }
    return hex;
}

// The remote file's modification time: MFMT where the server has it, else the two-argument
// MDTM that vsftpd accepts (mdtm_write; other servers answer 5xx). True when the server set it,
// so that the next mirror sees the same times on both sides and moves nothing.
asio::awaitable<bool> set_remote_mtime(session& s, const std::string& path, std::int64_t mtime) {
    proto::reply rep;
    const std::string verb = s.has_feature("MFMT") ? "MFMT " : "MDTM ";
    if (auto o = co_await s.raw(verb + proto::format_timeval(mtime) + " " + path, rep); !o) co_return false;
    co_return rep.code / 100 == 2;
}

}  // namespace

// Everything the transfer workers share; they run on one thread (io_), so no locking.
struct shell::mirror_job {
    const mirror_request& req;
    std::string base;  // the remote root, absolute
    std::vector<const mirror_action*> queue;
    std::size_t next = 0;
    overall_progress progress;
    std::uint64_t files = 0, bytes = 0, skipped = 0, deleted = 0;
    std::vector<std::string> failed;
    std::vector<std::string> notes;
    std::vector<std::unique_ptr<session>> owned;  // -P sessions and reconnections
    std::vector<session*> active;                 // what Ctrl-C interrupts
    bool interrupted = false;
};

asio::awaitable<outcome> shell::mirror_walk_remote(session& s, const std::string& base, std::vector<tree_entry>& out,
                                                   std::vector<std::string>& warnings) {
    // The listing of each folder is read inside it (CWD, then MLSD/LIST without an argument):
    // some servers take LIST's argument as options or patterns.
    const bool mdtm = !s.has_feature("MLST") && s.has_feature("MDTM");
    constexpr long max_depth = 64;
    std::vector<std::string> dirs{""};
    for (std::size_t i = 0; i < dirs.size(); ++i) {
        const std::string rel = dirs[i];
        if (auto o = co_await s.cwd(remote_join(base, rel)); !o) {
            if (rel.empty()) co_return o;
            warnings.push_back("cannot enter the remote folder " + rel + ": " + o.message);
            continue;
        }
        proto::listing l;
        if (auto o = co_await s.list("", l); !o) {
            if (rel.empty()) co_return o;
            warnings.push_back("cannot list the remote folder " + rel + ": " + o.message);
            continue;
        }
        for (const auto& e : l.entries) {
            if (e.self_or_parent) continue;
            const std::string& n = e.info.name;
            std::string child = rel.empty() ? n : rel + "/" + n;
            // SECURITY: path escape: a name from the server is one plain component or nothing.
            if (!safe_name(n)) {
                warnings.push_back("skipped the server's name '" + proto::printable(child) + "': not a plain file name");
                continue;
            }
            using k = proto::file_info::kind;
            if (e.info.type == k::dir) {
                // A server that lists a link to a parent folder as a folder would be walked forever.
                if (std::count(child.begin(), child.end(), '/') >= max_depth) {
                    warnings.push_back("skipped the remote folder " + proto::printable(child) + ": more than " +
                                       std::to_string(max_depth) + " levels deep (a loop?)");
                    continue;
                }
                out.push_back({child, tree_type::dir, 0, e.info.mtime});
                dirs.push_back(child);
            } else if (e.info.type == k::link) {
                out.push_back({child, tree_type::symlink, 0, 0});
            } else if (e.info.type == k::file) {
                tree_entry t{child, tree_type::file, e.info.size, e.info.mtime};
                if (mdtm) {
                    // LIST times have minutes at best; MDTM has the second.
                    proto::reply r;
                    if (auto o = co_await s.raw("MDTM " + remote_join(base, child), r); o && r.code == 213) {
                        std::int64_t t2 = 0;
                        std::string text = r.text();
                        while (!text.empty() && text.front() == ' ') text.erase(0, 1);
                        if (proto::parse_timeval(text, t2)) t.mtime = t2;
                    }
                }
                out.push_back(std::move(t));
            }
        }
    }
    co_return outcome::ok();
}

// HASH of the remote file, or empty with a note when the server gives none.
asio::awaitable<std::string> shell::mirror_remote_hash(session& s, const std::string& path, std::uint64_t size,
                                                       std::string& note) {
    proto::reply r;
    if (auto o = co_await s.raw("HASH " + path, r); !o) {
        note = o.message;
        co_return std::string();
    }
    if (auto hex = parse_hash_reply(r.code, r.text(), size)) co_return *hex;
    note = "the server's HASH reply is not a SHA-256 of the whole file: " + std::to_string(r.code) + " " + r.text();
    co_return std::string();
}

asio::awaitable<outcome> shell::mirror_transfer(session& s, mirror_job& job, const mirror_action& a, bool& verified_bad) {
    verified_bad = false;
    const mirror_request& r = job.req;
    const std::string remote = remote_join(job.base, a.path);
    const std::string local = r.local_root + "/" + a.path;
    const bool verify = r.verify && s.has_feature("HASH");
    std::uint64_t last = 0;
    auto progress = [&job, &last](std::uint64_t done, std::uint64_t) {
        if (done > last) job.progress.add(done - last);
        last = done;
    };
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::string note;
        if (r.upload) {
            upload_file f;
            if (auto o = f.open(local, 0); !o) co_return o;
            last = 0;
            if (auto o = co_await s.store(remote, f, false, 0, progress); !o) co_return o;
            job.bytes += f.size();
            if (!co_await set_remote_mtime(s, remote, a.mtime))
                job.notes.push_back("could not set the time of " + a.path + " (the server has neither MFMT nor MDTM with a time)");
            if (!verify) co_return outcome::ok();
            std::string remote_hex = co_await mirror_remote_hash(s, remote, f.size(), note);
            int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
            std::string error;
            auto local_hex = fd >= 0 ? local_sha256(fd, f.size(), error) : std::nullopt;
            if (fd >= 0) ::close(fd);
            if (remote_hex.empty() || !local_hex) {
                verified_bad = true;
                co_return outcome::fail(errc::transfer_failed, "--verify: " + (note.empty() ? error : note));
            }
            if (remote_hex == *local_hex) co_return outcome::ok();
        } else {
            part_file f;
            std::uint64_t offset = attempt == 0 ? a.resume_offset : 0;
            const std::string part = r.local_root + "/" + part_path(a.path);
            if (auto o = f.open(part, offset); !o) co_return o;
            last = offset;
            if (auto o = co_await s.retrieve(remote, f, offset, a.size, progress); !o) co_return o;
            struct stat st {};
            ::fstat(f.fd(), &st);
            const auto size = static_cast<std::uint64_t>(st.st_size);
            job.bytes += size - offset;
            bool good = true;
            if (verify) {
                std::string remote_hex = co_await mirror_remote_hash(s, remote, size, note);
                std::string error;
                auto local_hex = local_sha256(f.fd(), size, error);
                if (remote_hex.empty() || !local_hex) {
                    verified_bad = true;
                    co_return outcome::fail(errc::transfer_failed, "--verify: " + (note.empty() ? error : note));
                }
                good = remote_hex == *local_hex;
            }
            if (good) co_return f.finish(a.mtime, local);
            if (attempt == 1) ::unlink(part.c_str());  // known bad: nothing to resume
        }
        job.notes.push_back(a.path + ": the SHA-256 differs from the server's" +
                            std::string(attempt == 0 ? "; transferring it again" : ""));
    }
    verified_bad = true;
    co_return outcome::fail(errc::transfer_failed, "the SHA-256 still differs from the server's after a second transfer");
}

// checksum mode: same size; transfer only when the contents differ.
asio::awaitable<outcome> shell::mirror_compare(session& s, mirror_job& job, const mirror_action& a, bool& same) {
    same = false;
    if (!s.has_feature("HASH")) co_return outcome::ok();
    std::string note, error;
    std::string remote_hex = co_await mirror_remote_hash(s, remote_join(job.base, a.path), a.size, note);
    int fd = ::open((job.req.local_root + "/" + a.path).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || remote_hex.empty()) {
        if (fd >= 0) ::close(fd);
        co_return outcome::ok();
    }
    auto local_hex = local_sha256(fd, a.size, error);
    same = local_hex && *local_hex == remote_hex;
    // The same bytes: give the copy the source's time, so that the next run skips it outright.
    if (same && !job.req.upload) {
        struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(a.mtime), 0}};
        ::futimens(fd, times);
    }
    ::close(fd);
    if (same && job.req.upload) co_await set_remote_mtime(s, remote_join(job.base, a.path), a.mtime);
    co_return outcome::ok();
}

asio::awaitable<session*> shell::mirror_reconnect(mirror_job& job) {
    if (job.interrupted) co_return nullptr;
    std::unique_ptr<session> x = co_await open_extra_session();
    if (!x) co_return nullptr;
    if (job.req.verify && x->has_feature("HASH")) {
        proto::reply rep;
        co_await x->raw("OPTS HASH SHA-256", rep);  // the server's default may be another algorithm
    }
    job.owned.push_back(std::move(x));
    job.active.push_back(job.owned.back().get());
    co_return job.owned.back().get();
}

asio::awaitable<void> shell::mirror_worker(session* s, mirror_job& job) {
    while (job.next < job.queue.size()) {
        const mirror_action& a = *job.queue[job.next++];
        if (!s->logged_in()) {
            session* fresh = co_await mirror_reconnect(job);
            if (!fresh) {
                job.failed.push_back(a.path + ": the session was lost");
                job.progress.file_done();
                continue;
            }
            s = fresh;
        }
        if (a.kind == action_kind::compare) {
            bool same = false;
            co_await mirror_compare(*s, job, a, same);
            if (same) {
                ++job.skipped;
                job.progress.add(a.size);
                job.progress.file_done();
                continue;
            }
        }
        bool verified_bad = false;
        outcome o = co_await mirror_transfer(*s, job, a, verified_bad);
        if (!o && !verified_bad && worth_another_session(o, *s)) {
            if (session* fresh = co_await mirror_reconnect(job)) {
                s = fresh;
                mirror_action again = a;
                again.resume_offset = 0;
                if (!job.req.upload) {
                    // Continue what the first attempt wrote.
                    struct stat st;
                    if (::stat((job.req.local_root + "/" + part_path(a.path)).c_str(), &st) == 0 &&
                        static_cast<std::uint64_t>(st.st_size) < a.size)
                        again.resume_offset = static_cast<std::uint64_t>(st.st_size);
                }
                o = co_await mirror_transfer(*s, job, again, verified_bad);
            }
        }
        job.progress.file_done();
        if (o) {
            ++job.files;
        } else {
            job.failed.push_back(a.path + ": " + o.message);
        }
    }
}

int shell::cmd_mirror(const mirror_request& r) {
    session& s = *sess_;
    auto warn = [](const std::string& w) {
        std::fflush(stdout);
        std::fprintf(stderr, "ferry: mirror: %s\n", proto::printable(w).c_str());
    };
    if (r.verify && !s.has_feature("HASH")) warn("the server has no HASH command (FEAT): transfers are not verified");
    if (r.plan.checksum && !s.has_feature("HASH")) warn("the server has no HASH command: same-size files are transferred");
    const bool was_ascii = s.ascii();
    if (was_ascii) run(s.set_ascii(false));  // a mirror copies bytes

    std::string home;
    if (auto o = run(s.pwd(home)); !o) return fail(o);
    std::string base = r.remote_root;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    if (base.empty() || base == ".") base = home;
    else if (base.front() != '/') base = remote_join(home, base);

    std::vector<std::string> warnings;
    std::vector<tree_entry> src, dst;
    std::error_code ec;
    if (r.upload) {
        if (!fs::is_directory(r.local_root, ec)) {
            std::fprintf(stderr, "ferry: mirror: %s is not a local folder\n", r.local_root.c_str());
            return exit_usage;
        }
        src = walk_local(r.local_root, true, warnings);
        outcome o = run(mirror_walk_remote(s, base, dst, warnings));
        if (!o) {
            if (o.reply_code / 100 != 5) return fail(o);
            // The remote folder does not exist yet.
            dst.clear();
            if (!r.dry_run)
                if (auto m = run(s.simple("MKD " + base)); !m) return fail(m);
        }
    } else {
        if (fs::exists(fs::symlink_status(r.local_root, ec)) && !fs::is_directory(r.local_root, ec)) {
            std::fprintf(stderr, "ferry: mirror: %s exists and is not a folder\n", r.local_root.c_str());
            return exit_usage;
        }
        if (auto o = run(mirror_walk_remote(s, base, src, warnings)); !o) {
            run(s.cwd(home));
            return fail(o);
        }
        if (!r.dry_run && !fs::is_directory(r.local_root, ec)) {
            fs::create_directories(r.local_root, ec);
            if (ec) {
                std::fprintf(stderr, "ferry: mirror: cannot create %s: %s\n", r.local_root.c_str(), ec.message().c_str());
                return exit_failed;
            }
        }
        dst = walk_local(r.local_root, false, warnings);
    }
    run(s.cwd(home));

    mirror_plan plan = plan_mirror(std::move(src), std::move(dst), r.plan);
    for (const auto& w : warnings) warn("warning: " + w);
    for (const auto& w : plan.warnings) warn("warning: " + w);

    mirror_job job{r, base, {}, 0, {}, 0, 0, 0, 0, {}, {}, {}, {}, false};
    std::uint64_t to_move = 0, transfers = 0, removals = 0, skips = 0;
    for (const auto& a : plan.actions) {
        if (a.kind == action_kind::transfer || a.kind == action_kind::compare) {
            ++transfers;
            to_move += a.size - a.resume_offset;
        } else if (a.kind == action_kind::remove_file || a.kind == action_kind::remove_dir) {
            ++removals;
        } else if (a.kind == action_kind::skip) {
            ++skips;
        }
    }
    if (r.dry_run) {
        for (const auto& a : plan.actions)
            if (a.kind != action_kind::skip) std::printf("%s\n", proto::printable(describe(a)).c_str());
        std::printf("dry run: %llu files to transfer, %llu bytes, %llu skipped, %llu to delete; nothing was changed\n",
                    static_cast<unsigned long long>(transfers), static_cast<unsigned long long>(to_move),
                    static_cast<unsigned long long>(skips), static_cast<unsigned long long>(removals));
        std::fflush(stdout);
        return exit_ok;
    }

    // Folders and removals, in plan order, on this session.
    for (const auto& a : plan.actions) {
        const std::string local = r.local_root + "/" + a.path;
        const std::string remote = remote_join(base, a.path);
        outcome o;
        switch (a.kind) {
            case action_kind::skip: ++job.skipped; continue;
            case action_kind::transfer:
            case action_kind::compare: job.queue.push_back(&a); continue;
            case action_kind::mkdir:
                if (r.upload) o = run(s.simple("MKD " + remote));
                else if (::mkdir(local.c_str(), 0777) != 0 && errno != EEXIST)
                    o = outcome::fail(errc::local_file_error, sys_error("cannot create " + local));
                break;
            case action_kind::remove_file:
                if (r.upload) o = run(s.simple("DELE " + remote));
                else if (::unlink(local.c_str()) != 0) o = outcome::fail(errc::local_file_error, sys_error("cannot delete " + local));
                if (o && !is_part_path(a.path)) ++job.deleted;
                break;
            case action_kind::remove_dir:
                if (r.upload) o = run(s.simple("RMD " + remote));
                else if (::rmdir(local.c_str()) != 0) o = outcome::fail(errc::local_file_error, sys_error("cannot delete " + local));
                if (o) ++job.deleted;
                break;
        }
        if (!o) job.failed.push_back(a.path + ": " + o.message);
    }

    // Transfers, over up to -P sessions.
    job.progress.enabled = progress_;
    job.progress.files_total = job.queue.size();
    job.progress.bytes_total = to_move;
    job.active.push_back(&s);
    if (r.verify && s.has_feature("HASH")) {
        proto::reply rep;
        run(s.raw("OPTS HASH SHA-256", rep));  // the server's default may be another algorithm
    }
    const std::size_t want = std::min<std::size_t>(r.parallel, job.queue.size());
    for (std::size_t i = 1; i < want; ++i)
        if (!run(mirror_reconnect(job))) break;
    const std::vector<session*> workers = job.active;
    std::size_t running = workers.size();
    std::exception_ptr ep;
    asio::signal_set sigs(io_);
    if (interactive_) {
        // Ctrl-C at the prompt ends the mirror (and its connections), not the program.
        sigs.add(SIGINT);
        sigs.async_wait([&](std::error_code e, int) {
            if (e) return;
            std::fputs("\nferry: interrupted; closing the connections\n", stderr);
            job.interrupted = true;
            job.next = job.queue.size();
            for (session* x : job.active) x->interrupt();
        });
    }
    for (session* x : workers)
        asio::co_spawn(io_, mirror_worker(x, job), [&](std::exception_ptr e) {
            if (e) ep = e;
            if (--running == 0) {
                std::error_code ignored;
                sigs.cancel(ignored);
            }
        });
    io_.restart();
    io_.run();
    if (ep) std::rethrow_exception(ep);
    job.progress.finish();
    for (auto& x : job.owned) run_void(x->quit());
    if (was_ascii) run(s.set_ascii(true));

    for (const auto& n : job.notes) warn(n);
    std::printf("%llu files transferred, %llu bytes, %llu skipped, %llu deleted, %zu failed\n",
                static_cast<unsigned long long>(job.files), static_cast<unsigned long long>(job.bytes),
                static_cast<unsigned long long>(job.skipped), static_cast<unsigned long long>(job.deleted),
                job.failed.size());
    std::fflush(stdout);
    if (job.failed.empty()) return exit_ok;
    std::fprintf(stderr, "ferry: mirror: %zu failed:\n", job.failed.size());
    for (const auto& f : job.failed) std::fprintf(stderr, "  %s\n", proto::printable(f).c_str());
    return exit_failed;
}

}  // namespace ferry::client
