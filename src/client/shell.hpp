#pragma once
// The ferry CLI's commands and the state they share (session, settings, modes), used by the
// one-shot, batch and interactive modes. What needs a terminal or the user's credentials
// (connecting and logging in, password prompts, the progress bar) the program supplies by
// overriding the hooks below; the commands themselves are table-driven (command_table.hpp).
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/command_table.hpp"
#include "client/mirror.hpp"
#include "client/session.hpp"
#include "client/url.hpp"
#include "config/client_settings.hpp"

namespace ferry::client {

// Exit statuses (documented in the README and `ferry --help`).
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;      // a command or transfer failed
inline constexpr int exit_usage = 2;       // bad command line, configuration or batch syntax
inline constexpr int exit_connection = 3;  // no session: connect, TLS, certificate or login failed

// A transfer's progress as the program shows it (a bar on a terminal, or nothing).
class progress_display {
public:
    virtual ~progress_display() = default;
    virtual void update(std::uint64_t done, std::uint64_t total) = 0;
    virtual void finish() = 0;
};

// The first line of a password file, without its line end; empty + error when unreadable.
std::string read_password_file(const std::string& path, std::string& error);

// --segments N: 1 to max_segments.
inline constexpr unsigned max_segments = 16;
bool parse_segments(const std::string& text, unsigned& out);

class shell {
public:
    shell();
    virtual ~shell();
    shell(const shell&) = delete;
    shell& operator=(const shell&) = delete;

    // One command line (batch or prompt); returns an exit status, quit set by bye.
    int execute(const std::string& line, bool& quit);
    // The command table that execute and help read.
    const std::vector<command>& commands() const { return commands_; }

protected:
    // The program's part. connect opens the session for u (credentials, certificate prompts)
    // and, with enter_directory, changes to its path.
    virtual int connect(const ftp_url& u, bool enter_directory) = 0;
    virtual std::optional<std::string> ask_password(const std::string& prompt) = 0;
    virtual std::unique_ptr<progress_display> show_progress(const std::string& name, bool enabled) = 0;

    // Runs one session operation to completion on io_ (Ctrl-C at the prompt interrupts it).
    template <class T>
    T run(asio::awaitable<T> op);
    void run_void(asio::awaitable<void> op);

    // A note for the user: stdout at the prompt, stderr with -v, else nothing.
    void info(const std::string& text) const;
    int fail(const outcome& o, int status = exit_failed);
    // "FROM -> TO: N bytes in S s (rate)" after a completed transfer (shown with -v or at the prompt).
    void report_moved(const std::string& from, const std::string& to, std::uint64_t bytes,
                      std::chrono::steady_clock::time_point started) const;
    void disconnect();
    int require_session();

    // The commands the one-shot modes reuse.
    int cmd_ls(const std::vector<std::string>& args, bool raw);
    // segments > 1: ranges over that many sessions at once (segmented_get.hpp) where the server
    // offers RANG; one stream otherwise.
    int cmd_get(const std::string& remote, const std::string& local, bool resume, unsigned segments = 1,
                bool verify = false);
    // get --verify: the server's SHA-256 of remote (HASH) against the local file at path; ok with
    // a note when the server has no HASH.
    asio::awaitable<outcome> verify_download(session& s, const std::string& remote, const std::string& path,
                                             std::uint64_t size);
    // A data connection the server refuses (425 and the like) gets one more try on a fresh
    // session in the same folder: ProFTPD, whose single-use TLS 1.3 tickets a session spends
    // on two uploads, refuses the third one's resumption.
    int cmd_put(const std::string& local, const std::string& remote, bool resume);
    // One upload; moved: the bytes it sent (the maximum when there was nothing to send).
    outcome put_once(const std::string& local, const std::string& remote, bool resume, std::uint64_t& moved);
    // Whether a failed transfer may succeed on a new session: the connection or the data
    // connection failed, not the server's refusal of the file (5xx) nor a local error.
    static bool worth_another_session(const outcome& o, const session& s);
    // Replaces the session by a new one logged in the same way, in the same folder and TYPE;
    // false (and the old one kept) when that cannot be done.
    asio::awaitable<bool> replace_session();
    // mirror (shell_mirror.cpp) on the logged-in session.
    int cmd_mirror(const mirror_request& r);
    // mirror -P and reconnections: another session to the same server, logged in like the
    // first; nullptr when none can be opened (the mirror then uses fewer sessions).
    virtual asio::awaitable<std::unique_ptr<session>> open_extra_session() { co_return nullptr; }

    asio::io_context io_;
    config::client_settings settings_;
    std::unique_ptr<session> sess_;
    bool interactive_ = false;  // a person at a terminal: prompts, TOFU, summaries
    bool progress_ = false;
    bool verbose_ = false;
    bool ascii_ = false;       // TYPE A asked for (-a, ascii): applied at each login
    bool keep_going_ = false;  // --continue: mget/mput go on after a failed file in batch mode
    std::string password_file_;

private:
    std::vector<command> make_commands();
    void help(const std::string& topic) const;
    int cmd_open(const std::vector<std::string>& args);
    int cmd_user(const std::vector<std::string>& args);
    int cmd_transfer(const command_call& c, bool download, bool resume);
    int cmd_mget(const std::vector<std::string>& patterns);
    int cmd_mput(const std::vector<std::string>& patterns);
    // n more logged-in sessions to the same server, opened at once (fewer when some fail).
    asio::awaitable<std::vector<std::unique_ptr<session>>> open_extra_sessions(std::size_t n);
    asio::awaitable<void> open_one_extra(std::shared_ptr<std::vector<std::unique_ptr<session>>> into, std::size_t i);
    // nullopt: the server ignored the ranges and the caller fetches the file as one stream.
    std::optional<int> get_segmented(const std::string& remote, const std::string& local, std::uint64_t size,
                                     unsigned segments, std::chrono::steady_clock::time_point started,
                                     progress_display& bar, bool verify);
    int cmd_simple(const std::string& line);
    int cmd_ascii(bool on);
    int cmd_locsite(const std::string& rest);
    int cmd_prot(const command_call& c);
    int cmd_raw(const command_call& c);
    struct mirror_job;
    asio::awaitable<outcome> mirror_walk_remote(session& s, const std::string& base, std::vector<tree_entry>& out,
                                                std::vector<std::string>& warnings);
    asio::awaitable<std::string> mirror_remote_hash(session& s, const std::string& path, std::uint64_t size,
                                                    std::string& note);
    // verified_bad: the failure is --verify's verdict, not worth another session.
    asio::awaitable<outcome> mirror_transfer(session& s, mirror_job& job, const mirror_action& a, bool& verified_bad);
    asio::awaitable<outcome> mirror_compare(session& s, mirror_job& job, const mirror_action& a, bool& same);
    asio::awaitable<void> mirror_worker(session* s, mirror_job& job);
    asio::awaitable<session*> mirror_reconnect(mirror_job& job);

    std::vector<command> commands_;
    bool quit_ = false;
};

template <class T>
T shell::run(asio::awaitable<T> op) {
    std::optional<T> result;
    std::exception_ptr ep;
    asio::signal_set sigs(io_);
    if (interactive_) {
        // Ctrl-C during an operation ends it (and the connection), not the program.
        sigs.add(SIGINT);
        sigs.async_wait([this](std::error_code ec, int) {
            if (ec || !sess_) return;
            std::fputs("\nferry: interrupted; closing the connection\n", stderr);
            sess_->interrupt();
        });
    }
    asio::co_spawn(io_, std::move(op), [&](std::exception_ptr e, T v) {
        ep = e;
        result = std::move(v);
        std::error_code ec;
        sigs.cancel(ec);
    });
    io_.restart();
    io_.run();
    if (ep) std::rethrow_exception(ep);
    return std::move(*result);
}

}  // namespace ferry::client
