#include "proto/line_reader.hpp"

#include <algorithm>

namespace ferry::proto {

namespace {
constexpr unsigned char iac = 255;
constexpr unsigned char will_cmd = 251;  // WILL, WONT, DO, DONT are 251..254 and carry an option byte
constexpr unsigned char dont_cmd = 254;
// Below this many consumed bytes we do not bother moving the rest of the buffer.
constexpr std::size_t compact_threshold = 4096;
}  // namespace

// Buffer invariants:
//  - buf_[pos_, end) holds decoded bytes not yet returned by next().
//  - An unterminated tail (bytes after the last LF) is at most max_line_ + 2 bytes long: the
//    line itself, a possible CR, and one byte more that marks the line as over-long. When the
//    tail reaches that length feed() sets skipping_ and drops everything up to the next LF.
//    This keeps memory bounded whatever the peer sends.
//  - When the skipped line ends and its over-long prefix is still unreported, feed() appends the
//    LF so that next() reports exactly one too_long for it and never glues it to the next line.
void line_reader::feed(std::string_view bytes) {
    if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    } else if (pos_ >= compact_threshold && pos_ * 2 >= buf_.size()) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }

    const std::size_t limit = max_line_ + 2;
    std::size_t tail = 0;  // length of the unterminated last line in buf_[pos_, end)
    {
        auto nl = buf_.rfind('\n');
        std::size_t start = (nl == std::string::npos || nl < pos_) ? pos_ : nl + 1;
        tail = buf_.size() - start;
    }

    auto put = [&](char c) {
        if (skipping_) {
            if (c == '\n') {
                skipping_ = false;
                if (tail >= limit) buf_.push_back('\n');  // terminate the unreported prefix
                tail = 0;
            }
            return;
        }
        buf_.push_back(c);
        if (c == '\n') {
            tail = 0;
        } else if (++tail >= limit) {
            skipping_ = true;
        }
    };

    for (char ch : bytes) {
        auto b = static_cast<unsigned char>(ch);
        switch (telnet_) {
        case telnet::data:
            if (b == iac)
                telnet_ = telnet::iac;
            else
                put(ch);
            break;
        case telnet::iac:
            if (b == iac) {
                put(static_cast<char>(iac));  // escaped 0xFF data byte
                telnet_ = telnet::data;
            } else if (b >= will_cmd && b <= dont_cmd) {
                telnet_ = telnet::option;  // option negotiation: drop the option byte too
            } else {
                telnet_ = telnet::data;  // IP, DM, AYT, ...: a server has no use for them
            }
            break;
        case telnet::option:
            telnet_ = telnet::data;
            break;
        }
    }
}

line_reader::status line_reader::next(std::string& line) {
    auto nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
        // An unterminated tail this long only exists after feed() started skipping it.
        if (buf_.size() - pos_ >= max_line_ + 2) {
            pos_ = buf_.size();
            return status::too_long;
        }
        return status::need_more;
    }
    std::size_t end = nl;
    if (end > pos_ && buf_[end - 1] == '\r') --end;
    std::size_t len = end - pos_;
    bool too_long = len > max_line_;
    if (!too_long) line.assign(buf_, pos_, len);
    pos_ = nl + 1;
    if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    }
    return too_long ? status::too_long : status::line;
}

// Also forgets a half-received Telnet sequence and an over-long line in progress: after AUTH the
// byte stream starts afresh inside TLS, and nothing from the clear-text part may leak into it.
void line_reader::discard_buffered() {
    buf_.clear();
    pos_ = 0;
    telnet_ = telnet::data;
    skipping_ = false;
}

}  // namespace ferry::proto
