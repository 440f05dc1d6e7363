#pragma once
// The ferry CLI's state and commands, shared by the one-shot, batch and interactive modes.
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/session.hpp"
#include "client/url.hpp"
#include "config/client_settings.hpp"

namespace ferry::cli {

// Exit statuses (documented in the README and `ferry --help`).
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;      // a command or transfer failed
inline constexpr int exit_usage = 2;       // bad command line, configuration or batch syntax
inline constexpr int exit_connection = 3;  // no session: connect, TLS, certificate or login failed

struct options {
    bool verbose = false;
    bool insecure = false;
    std::string fingerprint, ca, cert, key, config_file;
    bool passive = false, active = false, epsv = false, ignore_pasv = false, ccc = false, allow_plain = false;
    std::string password_file, user, netrc_file;
    bool no_netrc = false;
    std::string prot;  // "C" or "P"
    std::string tls_min, tls_max;
    int timeout = -1;
    int keepalive = -1;
    std::vector<std::string> sets;
    std::string batch_file;
    bool keep_going = false;
    bool no_progress = false;
    bool ascii = false;
};

class app {
public:
    explicit app(options o);
    ~app();

    // Settings from the defaults, the config file, --set and the flags; false + message on error.
    bool configure(std::string& error);

    int get(const std::string& url, const std::string& local, bool resume);
    int put(const std::string& local, const std::string& url, bool resume);
    int ls(const std::string& url, bool long_format, bool raw);
    int probe(const std::string& url);
    // Batch (stdin not a terminal, or -b FILE) or interactive; url (may be empty) opens first.
    int session_mode(const std::string& url);

private:
    template <class T>
    T run(asio::awaitable<T> op);
    void run_void(asio::awaitable<void> op);

    void make_session();
    int connect(const client::ftp_url& u, bool enter_directory);
    bool credentials(const client::ftp_url& u, std::string& user, std::string& password, std::string& error);
    bool accept_untrusted(const tls::peer_check& pc, const std::string& host_port, std::string& why);
    int fail(const client::outcome& o, int status = exit_failed);
    void info(const std::string& text) const;
    // "FROM -> TO: N bytes in S s (rate)" after a completed transfer (shown with -v or at the prompt).
    void report_moved(const std::string& from, const std::string& to, std::uint64_t bytes,
                      std::chrono::steady_clock::time_point started) const;
    void disconnect();

    // Commands; each returns an exit status (0 = done).
    int execute(const std::string& line, bool& quit);
    int cmd_open(const std::vector<std::string>& args);
    int cmd_user(const std::vector<std::string>& args);
    int cmd_ls(const std::vector<std::string>& args, bool raw);
    int cmd_get(const std::string& remote, const std::string& local, bool resume);
    int cmd_put(const std::string& local, const std::string& remote, bool resume);
    int cmd_mget(const std::vector<std::string>& patterns);
    int cmd_mput(const std::vector<std::string>& patterns);
    int cmd_simple(const std::string& line);
    int require_session();
    void help(const std::string& topic) const;

    options opts_;
    asio::io_context io_;
    config::client_settings settings_;
    client::trust_options trust_;
    std::unique_ptr<client::session> sess_;
    bool interactive_ = false;  // a person at a terminal: prompts, TOFU, summaries
    bool progress_ = false;
    bool verbose_ = false;
};

}  // namespace ferry::cli
