#pragma once
// Control-connection line framing (RFC 959 section 4.1.3, Telnet NVT): sans-I/O.
// Bytes go in with feed(); complete command lines come out of next().
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::proto {

class line_reader {
public:
    // vsftpd and ProFTPD use about 4 KiB; a longer line is a client bug or an attack.
    static constexpr std::size_t default_max_line = 4096;

    enum class status { line, need_more, too_long };

    explicit line_reader(std::size_t max_line = default_max_line) : max_line_(max_line) {}

    // Appends raw bytes from the socket. Telnet IAC sequences are removed here
    // (IAC IAC becomes one 0xFF byte), so the rest of the code sees plain text.
    void feed(std::string_view bytes);

    // Takes the next line (without CR LF; a bare LF also ends a line). too_long means a line
    // exceeded max_line: its bytes up to the next LF are dropped and the caller should reply 500.
    status next(std::string& line);

    // Bytes received but not yet returned as a line. After AUTH, these arrived in clear text
    // before the TLS handshake and must be thrown away, not executed (STARTTLS injection).
    std::size_t buffered() const { return buf_.size() - pos_; }
    void discard_buffered();

private:
    enum class telnet { data, iac, option };
    std::string buf_;
    std::size_t pos_ = 0;
    std::size_t max_line_;
    telnet telnet_ = telnet::data;
    bool skipping_ = false;  // inside an over-long line, dropping until LF
};

}  // namespace ferry::proto
