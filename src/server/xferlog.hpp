#pragma once
// The transfer log in the xferlog(5) format of wu-ftpd, as vsftpd (xferlog_std_format) and
// ProFTPD (TransferLog) write it, so that existing analysers read it unchanged:
//
//   current-time transfer-time remote-host file-size filename transfer-type special-action-flag
//   direction access-mode username service-name authentication-method authenticated-user-id
//   completion-status
//
//   Sun Dec  6 00:38:48 2026 1 127.0.0.1 1048576 /upload/report.pdf b _ i r alice ftp 0 * c
//
// The format has no quoting: as vsftpd does, spaces in file names are written as '_' (and so are
// control characters, so that a file name cannot forge a line).
#include <cstdint>
#include <ctime>
#include <mutex>
#include <string>

namespace ferry::server {

struct xferlog_entry {
    std::tm when{};            // current-time: the end of the transfer, local time
    double seconds = 0;        // transfer-time: written in whole seconds, at least 1 (as vsftpd)
    std::string remote_host;   // the client's address (no reverse lookup)
    std::uint64_t bytes = 0;   // file-size: the bytes transferred
    std::string filename;      // the path the client sees (below its home)
    bool ascii = false;        // transfer-type: a (TYPE A) or b (TYPE I)
    bool incoming = false;     // direction: i (upload) or o (download)
    std::string user;          // username; access-mode is always r (real user: no anonymous FTP)
    bool complete = false;     // completion-status: c (complete) or i (incomplete)
};

// One line, without its newline. Pure: the unit tests check it field by field.
std::string format_xferlog_line(const xferlog_entry& e);

// The log file: lines appended with one write(2) each, from any thread. open() again (SIGHUP)
// switches to a fresh descriptor for the same or another path, so that logrotate's renamed file
// is left alone; when it fails the old descriptor stays.
class xferlog_writer {
public:
    xferlog_writer() = default;
    xferlog_writer(const xferlog_writer&) = delete;
    xferlog_writer& operator=(const xferlog_writer&) = delete;
    ~xferlog_writer();

    // path: a file (created 0600 if missing, appended to), "-" for standard output, or empty
    // for no log. On failure returns false with "path: why" in error.
    bool open(const std::string& path, std::string& error);
    bool enabled() const;
    void write(const xferlog_entry& e);

private:
    mutable std::mutex mutex_;
    int fd_ = -1;
    bool owned_ = false;  // false for standard output
};

}  // namespace ferry::server
