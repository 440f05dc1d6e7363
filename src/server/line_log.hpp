#pragma once
// A log file written a whole line at a time from any thread: the transfer log (XFERLOG) and the
// event log (JSONLOG). open() again (SIGHUP) switches to a fresh descriptor for the same or
// another path, so that logrotate's renamed file is left alone; when it fails the old one stays.
#include <mutex>
#include <string>
#include <string_view>

namespace ferry::server {

class line_log {
public:
    line_log() = default;
    line_log(const line_log&) = delete;
    line_log& operator=(const line_log&) = delete;
    ~line_log();

    // path: a file (created 0600 if missing, appended to), "-" for standard output, or empty
    // for no log. what names the log in errors. On failure returns false with "path: why".
    bool open(const std::string& path, std::string_view what, std::string& error);
    bool enabled() const;
    // line without its newline.
    void write(std::string_view line);

private:
    mutable std::mutex mutex_;
    int fd_ = -1;
    bool owned_ = false;  // false for standard output
};

}  // namespace ferry::server
