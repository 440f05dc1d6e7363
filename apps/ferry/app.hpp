#pragma once
// The ferry program's modes: one-shot commands, batch and interactive sessions, probe.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/session.hpp"
#include "client/shell.hpp"
#include "client/url.hpp"

namespace ferry::cli {

using client::exit_connection;
using client::exit_failed;
using client::exit_ok;
using client::exit_usage;

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

// The modes around the shared commands (client::shell): credentials, certificate prompts and
// the progress bar at the terminal, the one-shot commands, the batch and interactive loop, probe.
class app final : public client::shell {
public:
    explicit app(options o);
    ~app() override;

    // Settings from the defaults, the config file, --set and the flags; false + message on error.
    bool configure(std::string& error);

    int get(const std::string& url, const std::string& local, bool resume, unsigned segments = 1, bool verify = false);
    int put(const std::string& local, const std::string& url, bool resume);
    int ls(const std::string& url, bool long_format, bool raw);
    int probe(const std::string& url);
    // mirror: r's remote_root is the URL (its path is the remote folder).
    int mirror(client::mirror_request r);
    // Batch (stdin not a terminal, or -b FILE) or interactive; url (may be empty) opens first.
    int session_mode(const std::string& url);

private:
    int connect(const client::ftp_url& u, bool enter_directory) override;
    std::optional<std::string> ask_password(const std::string& prompt) override;
    std::unique_ptr<client::progress_display> show_progress(const std::string& name, bool enabled) override;
    asio::awaitable<std::unique_ptr<client::session>> open_extra_session() override;

    void make_session();
    bool credentials(const client::ftp_url& u, std::string& user, std::string& password, std::string& error);
    bool accept_untrusted(const tls::peer_check& pc, const std::string& host_port, std::string& why);

    options opts_;
    client::trust_options trust_;
    // The last login, for open_extra_session (mirror -P).
    std::optional<client::ftp_url> last_url_;
    std::string last_user_, last_password_;
    std::set<std::string, std::less<>> warnings_given_;  // said once; other sessions do not repeat them
};

}  // namespace ferry::cli
