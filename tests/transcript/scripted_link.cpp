#include "scripted_link.hpp"

#include <asio/error.hpp>

namespace ferry::transcript {

namespace {
// "\r\n" inside a chunk shows as the two characters, so a pipelined chunk stays one line.
std::string escaped(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}
}  // namespace

asio::ip::tcp::endpoint scripted_link::peer() const {
    return {asio::ip::make_address("127.0.0.1"), 50123};
}

asio::ip::tcp::endpoint scripted_link::local() const { return {asio::ip::make_address("127.0.0.1"), 21}; }

bool scripted_link::fails() {
    ++rec_->operations;
    if (script_.fail_at != 0 && rec_->operations >= script_.fail_at) {
        rec_->failed = true;
        return true;
    }
    return false;
}

asio::awaitable<std::error_code> scripted_link::send(std::string_view wire) {
    if (fails()) co_return asio::error::broken_pipe;
    // One "< " line per reply line, without its CRLF.
    std::size_t start = 0;
    while (start < wire.size()) {
        std::size_t end = wire.find("\r\n", start);
        if (end == std::string_view::npos) {
            note("< " + escaped(wire.substr(start)) + " (no CRLF)");
            break;
        }
        note("< " + std::string(wire.substr(start, end - start)));
        start = end + 2;
    }
    co_return std::error_code{};
}

void scripted_link::wait_readable(std::function<void(std::error_code)> done) {
    asio::post(io_, [done = std::move(done)] { done({}); });
}

asio::awaitable<std::size_t> scripted_link::receive(char* data, std::size_t size, std::error_code& ec) {
    if (pending_.empty()) {
        if (fails()) {
            ec = asio::error::connection_reset;
            co_return 0;
        }
        if (script_.chunks.empty()) {  // the client has said all it had to say and closes
            ec = asio::error::eof;
            co_return 0;
        }
        pending_ = std::move(script_.chunks.front());
        script_.chunks.pop_front();
        std::string shown = pending_;
        if (shown.size() >= 2 && shown.compare(shown.size() - 2, 2, "\r\n") == 0) shown.resize(shown.size() - 2);
        note("> " + escaped(shown));
    }
    const std::size_t n = std::min(size, pending_.size());
    pending_.copy(data, n);
    pending_.erase(0, n);
    co_return n;
}

asio::awaitable<std::error_code> scripted_link::start_tls(const tls::context&, int tickets) {
    if (fails()) co_return asio::error::connection_reset;
    secure_ = true;
    note("-- TLS start" + std::string(script_.certificate.present ? ", client certificate " + script_.certificate.subject : "") +
         (tickets > 0 ? ", " + std::to_string(tickets) + " ticket" : ""));
    co_return std::error_code{};
}

asio::awaitable<std::error_code> scripted_link::end_tls(bool wait_for_peer) {
    if (fails()) co_return asio::error::connection_reset;
    secure_ = false;
    note(std::string("-- TLS end") + (wait_for_peer ? ", close_notify exchanged" : ", close_notify sent"));
    co_return std::error_code{};
}

asio::awaitable<std::error_code> scripted_link::end_tls_answering(bool answer, std::chrono::milliseconds) {
    if (fails()) co_return asio::error::connection_reset;
    secure_ = false;
    note(std::string("-- TLS end") + (answer ? ", close_notify exchanged" : ", no close_notify (CCCNONOTIFY)"));
    co_return std::error_code{};
}

void scripted_link::issue_session_ticket() {
    if (secure_) note("-- ticket");
}

asio::awaitable<void> scripted_link::close_gracefully() {
    note("-- close");
    co_return;
}

void scripted_link::close() { rec_->closed = true; }

asio::awaitable<net::delivery> scripted_link::wait_delivered(std::chrono::steady_clock::duration,
                                                             std::chrono::steady_clock::duration) {
    co_return rec_->failed ? net::delivery::peer_gone : net::delivery::acknowledged;
}

std::error_code scripted_link::listen_passive(std::uint16_t low, std::uint16_t) {
    if (!listening_) ++rec_->passive_open;
    listening_ = true;
    port_ = low ? low : 40000;
    return {};
}

void scripted_link::close_passive() {
    if (listening_) --rec_->passive_open;
    listening_ = false;
}

// No client data connection ever arrives, and no active target answers: the dialogues show the
// protocol around data connections; their bytes are the interop tests' (tests/interop).
asio::awaitable<std::error_code> scripted_link::accept_data(asio::ip::tcp::socket&, std::optional<asio::ip::address>,
                                                            net::refused_connections&) {
    co_return asio::error::timed_out;
}

asio::awaitable<std::error_code> scripted_link::connect_data(asio::ip::tcp::socket&, bool,
                                                             const asio::ip::tcp::endpoint&) {
    co_return asio::error::connection_refused;
}

}  // namespace ferry::transcript
