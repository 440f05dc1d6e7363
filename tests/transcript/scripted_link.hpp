#pragma once
// A control_link with no network under it: the client's side is a script of input chunks, and
// everything the session does on the wire (replies, TLS started or ended, tickets, the close) is
// written down in order, so a dialogue can be compared byte for byte.
//
// Failure injection: with fail_at = k, the k-th network operation (1-based: a receive, a send, a
// TLS start or end) fails as a vanished peer would make it fail, and every later one fails too.
#include <asio/io_context.hpp>
#include <deque>
#include <string>
#include <vector>

#include "server/control_link.hpp"

namespace ferry::transcript {

struct link_script {
    std::deque<std::string> chunks;  // what the client sends, one receive() each
    tls::stream::peer_identity certificate;  // presented in every TLS handshake
    std::size_t fail_at = 0;                 // 0: no failure
};

// What the session left behind, for the checks after a dialogue.
struct link_record {
    std::vector<std::string> lines;  // "> ..." input, "< ..." replies, "-- ..." events
    std::size_t operations = 0;      // network operations counted (for fail_at)
    int passive_open = 0;            // listeners not closed
    bool closed = false;
    bool failed = false;             // the injected failure happened
};

class scripted_link final : public server::control_link {
public:
    scripted_link(asio::io_context& io, link_script script, std::shared_ptr<link_record> record)
        : io_(io), script_(std::move(script)), rec_(std::move(record)) {}

    asio::any_io_executor executor() override { return io_.get_executor(); }
    asio::ip::tcp::endpoint peer() const override;
    asio::ip::tcp::endpoint local() const override;
    asio::awaitable<std::error_code> send(std::string_view wire) override;
    asio::awaitable<std::size_t> receive(char* data, std::size_t size, std::error_code& ec) override;
    void wait_readable(std::function<void(std::error_code)> done) override;
    bool has_pending() const override { return !pending_.empty(); }
    void interrupt() override {}
    void cork(bool) override {}
    asio::awaitable<std::error_code> start_tls(const tls::context&, int tickets) override;
    asio::awaitable<std::error_code> end_tls(bool wait_for_peer) override;
    asio::awaitable<std::error_code> end_tls_answering(bool answer, std::chrono::milliseconds grace) override;
    std::string tls_error() const override { return "injected failure"; }
    std::string tls_protocol() const override { return secure_ ? "TLSv1.3" : ""; }
    std::string tls_cipher() const override { return secure_ ? "TLS_AES_256_GCM_SHA384" : ""; }
    tls::stream::peer_identity tls_peer() const override { return script_.certificate; }
    void issue_session_ticket() override;
    void set_session_tag(std::string tag) override { tag_ = std::move(tag); }
    const std::string& session_tag() const override { return tag_; }
    // Every scripted handshake "resumes" another connection's session.
    bool adopt_resumed_session_tag() override {
        tag_ = "transcript-tag";
        return true;
    }
    asio::awaitable<void> close_gracefully() override;
    void close() override;
    asio::awaitable<net::delivery> wait_delivered(std::chrono::steady_clock::duration,
                                                  std::chrono::steady_clock::duration) override;
    std::error_code listen_passive(std::uint16_t low, std::uint16_t high) override;
    std::uint16_t passive_port() const override { return port_; }
    void close_passive() override;
    asio::awaitable<std::error_code> accept_data(asio::ip::tcp::socket& out, std::optional<asio::ip::address> required,
                                                 net::refused_connections& refused) override;
    asio::awaitable<std::error_code> connect_data(asio::ip::tcp::socket& out, bool from_port_20,
                                                  const asio::ip::tcp::endpoint& target) override;

private:
    // Counts one network operation; true when it must fail (the injected failure or after it).
    bool fails();
    void note(std::string line) { rec_->lines.push_back(std::move(line)); }

    asio::io_context& io_;
    link_script script_;
    std::shared_ptr<link_record> rec_;
    std::string pending_;  // the rest of a chunk a short receive() did not take
    bool secure_ = false;
    bool listening_ = false;
    std::uint16_t port_ = 0;
    std::string tag_;  // the session tag (set_session_tag)
};

}  // namespace ferry::transcript
