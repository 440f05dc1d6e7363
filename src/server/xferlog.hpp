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

}  // namespace ferry::server
