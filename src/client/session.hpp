#pragma once
// One FTPS client session: connect (explicit AUTH TLS or implicit TLS), verify the server, log
// in, set the data protection level, and run commands and transfers. Data connections follow the
// client settings (FWFRIENDLY, EPSV4, PASSIVEIGNOREADDR) and resume the control connection's TLS
// session. Operations are coroutines on one io_context thread and return outcome values.
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/control.hpp"
#include "proto/features.hpp"
#include "client/data_io.hpp"
#include "client/error.hpp"
#include "config/client_settings.hpp"
#include "proto/list_parse.hpp"
#include "proto/reply.hpp"
#include "tls/client_context.hpp"

namespace ferry::client {

struct trust_options {
    // SECURITY: --insecure accepts any certificate: a man in the middle can read and change
    // everything, the password included. Only for tests and first contact on a trusted network.
    bool insecure = false;
    std::string fingerprint;  // pinned "SHA256:AB:CD..." (colons and prefix optional)
};

struct session_hooks {
    std::function<void(std::string_view)> trace;  // -v: ">>> cmd", "<<< reply", "--- note"
    std::function<void(std::string_view)> warn;   // always shown
    // The server certificate is not trusted by the CA store (or names another host). Return true
    // to go on (known_servers entry, trust on first use at the prompt). Set why for a refusal.
    std::function<bool(const tls::peer_check&, const std::string& host_port, std::string& why)> accept_untrusted;
};

struct task_state;
struct keepalive_state;

using progress_fn = std::function<void(std::uint64_t done, std::uint64_t total)>;

// How data connections are opened. automatic follows the settings; the others are for `probe`.
enum class data_method { automatic, epsv, pasv, pasv_ignore_addr, pasv_as_sent, eprt, port };
std::string_view method_name(data_method m);

class session {
public:
    session(asio::any_io_executor ex, config::client_settings settings, trust_options trust, session_hooks hooks);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // Before open(): the control connection offers one of first's TLS sessions (same server), so
    // that a second session resumes instead of a full handshake (mirror -P, get --segments).
    void resume_control_from(session& first);
    // After login: one of this session's unused tickets to first, for the next resume_control_from.
    void give_spare_ticket_to(session& first) { slot_.give_spare_to(first.slot_); }
    // Connects and secures the control connection and reads the greeting.
    asio::awaitable<outcome> open(const std::string& host, std::uint16_t port, bool implicit_tls);
    // USER/PASS(/ACCT), then PBSZ 0 + PROT per SECURE_DATACONN, FEAT, OPTS UTF8, TYPE I.
    asio::awaitable<outcome> login(const std::string& user, const std::string& password,
                                   const std::string& account = {});
    // CCC per TLSRFCLEVEL: the control connection continues in clear; data keeps its PROT level.
    asio::awaitable<outcome> clear_command_channel();
    asio::awaitable<outcome> set_protection(bool private_data);
    asio::awaitable<outcome> set_ascii(bool ascii);
    // QUIT and close; never fails.
    asio::awaitable<void> quit();
    void close();
    // Ctrl-C: ends the running transfer (its data connection) and the control connection.
    void interrupt();

    // A command whose reply must be positive (2xx); the reply is returned for callers that show it.
    asio::awaitable<outcome> simple(const std::string& line, proto::reply* reply = nullptr);
    // Any command (quote/site): replies until a non-1xx one, which is returned whatever its code.
    asio::awaitable<outcome> raw(const std::string& line, proto::reply& reply);
    asio::awaitable<outcome> pwd(std::string& out);
    asio::awaitable<outcome> cwd(const std::string& path);
    asio::awaitable<outcome> rename(const std::string& from, const std::string& to);
    // SIZE in binary mode (TYPE I is set first when needed).
    asio::awaitable<outcome> size(const std::string& path, std::uint64_t& out);
    // MLSD when the server has it (MLST in FEAT), else LIST parsed as Unix or Windows lines.
    // raw_text receives the listing as the server sent it.
    asio::awaitable<outcome> list(const std::string& path, proto::listing& out, std::string* raw_text = nullptr,
                                  bool force_list = false);
    // RETR (after REST offset when offset > 0) into sink; total (0 = unknown) is for progress.
    asio::awaitable<outcome> retrieve(const std::string& path, data_sink& sink, std::uint64_t offset,
                                      std::uint64_t total, progress_fn progress);
    // STOR, or APPE when append (resuming an upload: source is positioned at the remote size).
    asio::awaitable<outcome> store(const std::string& path, data_source& source, bool append, std::uint64_t offset,
                                   progress_fn progress);

    // State
    bool connected() const { return control_.is_open(); }
    bool logged_in() const { return logged_in_ && connected(); }
    bool control_secure() const { return control_.secure(); }
    bool tls_session() const { return tls_used_; }  // TLS was used (CCC may have cleared the control)
    bool protection_private() const { return prot_private_; }
    bool ascii() const { return ascii_; }
    bool has_feature(std::string_view name) const;
    const std::string& host() const { return host_; }
    std::uint16_t port() const { return port_; }
    const std::string& tls_description() const { return tls_description_; }
    const std::string& server_fingerprint() const { return fingerprint_; }
    const std::string& greeting() const { return greeting_; }
    config::client_settings& settings() { return settings_; }
    const config::client_settings& settings() const { return settings_; }
    trust_options& trust() { return trust_; }
    std::string status_text() const;

    // For `probe`: force one data method, and what the last data connection did.
    void force_method(data_method m) { forced_ = m; }
    const std::string& last_data_note() const { return last_data_note_; }
    const std::string& last_pasv_address() const { return last_pasv_address_; }
    bool last_data_resumed() const { return last_resumed_; }

    struct data_conn;  // internal: one transfer's data connection
    struct transfer_state;

private:

    asio::awaitable<outcome> secure_control(bool implicit_tls);
    outcome check_server_certificate();
    asio::awaitable<outcome> read_greeting();
    asio::awaitable<outcome> wait_for_ticket();
    asio::awaitable<outcome> ensure_type(bool ascii);
    asio::awaitable<outcome> prepare_data(data_conn& dc);
    asio::awaitable<outcome> passive(data_conn& dc, data_method m, int& refused_code);
    asio::awaitable<outcome> active(data_conn& dc, data_method m, int& refused_code);
    asio::awaitable<outcome> start_transfer(const std::string& command, data_conn& dc, transfer_state& ts);
    asio::awaitable<void> setup_data(data_conn& dc, std::shared_ptr<task_state> st);
    asio::awaitable<outcome> finish_transfer(transfer_state& ts, outcome data_result, const std::string& what);
    asio::awaitable<void> abort_transfer(data_conn& dc, transfer_state& ts);
    asio::awaitable<outcome> receive(data_conn& dc, data_sink& sink, std::uint64_t offset, std::uint64_t total,
                                     const progress_fn& progress);
    asio::awaitable<outcome> send_data(data_conn& dc, data_source& source, std::uint64_t offset,
                                       const progress_fn& progress);
    void start_keepalive(transfer_state& ts);
    asio::awaitable<void> keepalive_loop(std::shared_ptr<keepalive_state> ka);
    asio::awaitable<void> stop_keepalive(transfer_state& ts);
    void trace(std::string_view s) const;
    void warn(std::string_view s) const;
    data_method choose_method() const;
    bool ipv6() const;

    asio::any_io_executor ex_;
    config::client_settings settings_;
    trust_options trust_;
    session_hooks hooks_;
    std::shared_ptr<tls::client_context> tls_;
    tls::session_slot slot_;  // declared before control_: outlives the control SSL
    control_connection control_;

    std::string host_, sni_, greeting_, tls_description_, fingerprint_;
    std::uint16_t port_ = 0;
    bool logged_in_ = false, tls_used_ = false, prot_private_ = false, ascii_ = false;
    int type_sent_ = 0;  // 0 unknown, 'A', 'I'
    bool implicit_ = false;
    proto::feature_set features_;
    bool epsv_refused_ = false, pasv_refused_ = false, mlsd_refused_ = false;
    bool pasv_warned_ = false, ticket_wait_done_ = false;
    std::optional<data_method> forced_;
    std::string last_data_note_, last_pasv_address_;
    bool last_resumed_ = false;
    bool resume_seeded_ = false;  // resume_control_from: slot_ holds the session to offer
    unsigned noops_pending_ = 0;
    bool interrupted_ = false;
    data_conn* current_ = nullptr;  // the data connection of the running transfer, for interrupt()
};

}  // namespace ferry::client
