#include "client/data_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ferry::client {

namespace {
std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }
}  // namespace

bool memory_sink::write(const char* p, std::size_t n, std::string& error) {
    if (data.size() + n > limit_) {
        error = "the listing is larger than " + std::to_string(limit_ >> 20) + " MiB";
        return false;
    }
    data.append(p, n);
    return true;
}

download_file::~download_file() {
    if (fd_ >= 0) ::close(fd_);
}

outcome download_file::open(const std::string& target, bool resume, std::uint64_t& offset) {
    target_ = target;
    part_ = part_name(target);
    offset = 0;
    struct stat st;
    if (::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        return outcome::fail(errc::local_file_error, target + " is a folder; give a file name to download to");
    // SECURITY: a symlink planted under the .ferry-part name is not followed.
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
    if (resume) {
        if (::stat(part_.c_str(), &st) != 0 && ::stat(target.c_str(), &st) == 0) {
            // Continue a partial file left by another tool: it becomes our temporary file.
            if (std::rename(target.c_str(), part_.c_str()) != 0)
                return outcome::fail(errc::local_file_error, sys_error("cannot resume " + target));
        }
        flags |= O_APPEND;
    } else {
        flags |= O_TRUNC;
    }
    fd_ = ::open(part_.c_str(), flags, 0666);
    if (fd_ < 0) return outcome::fail(errc::local_file_error, sys_error("cannot write " + part_));
    if (resume && ::fstat(fd_, &st) == 0) offset = static_cast<std::uint64_t>(st.st_size);
    start_ = offset;
    return outcome::ok();
}

bool download_file::write(const char* p, std::size_t n, std::string& error) {
    while (n > 0) {
        ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            error = sys_error("cannot write " + part_);
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
        written_ += static_cast<std::uint64_t>(w);
    }
    return true;
}

outcome download_file::commit() {
    if (fd_ < 0) return outcome::fail(errc::local_file_error, "no download in progress");
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return outcome::fail(errc::local_file_error, sys_error("cannot write " + part_));
    if (std::rename(part_.c_str(), target_.c_str()) != 0)
        return outcome::fail(errc::local_file_error, sys_error("cannot rename " + part_ + " to " + target_));
    return outcome::ok();
}

void download_file::discard() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    if (!part_.empty()) ::unlink(part_.c_str());
}

std::string download_file::abandon() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    struct stat st;
    if (::stat(part_.c_str(), &st) != 0) return {};
    if (st.st_size == 0) {
        ::unlink(part_.c_str());
        return {};
    }
    return "the partial download is kept in " + part_ + " (" + std::to_string(st.st_size) +
           " bytes); 'get -c' resumes it";
}

bool fd_sink::write(const char* p, std::size_t n, std::string& error) {
    while (n > 0) {
        ssize_t w = ::write(fd_, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            error = sys_error("cannot write to standard output");
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
        written_ += static_cast<std::uint64_t>(w);
    }
    return true;
}

upload_file::~upload_file() {
    if (owned_ && fd_ >= 0) ::close(fd_);
}

outcome upload_file::open(const std::string& path, std::uint64_t offset) {
    path_ = path;
    if (path == "-") {
        fd_ = 0;
        owned_ = false;
        size_ = 0;
        if (offset) return outcome::fail(errc::local_file_error, "cannot resume an upload from standard input");
        return outcome::ok();
    }
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return outcome::fail(errc::local_file_error, sys_error("cannot read " + path));
    owned_ = true;
    struct stat st;
    if (::fstat(fd_, &st) != 0) return outcome::fail(errc::local_file_error, sys_error("cannot read " + path));
    if (S_ISDIR(st.st_mode)) return outcome::fail(errc::local_file_error, path + " is a folder, not a file");
    size_ = static_cast<std::uint64_t>(st.st_size);
    if (offset > size_)
        return outcome::fail(errc::local_file_error, "the remote file is larger than " + path + "; nothing to resume");
    if (offset && ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0)
        return outcome::fail(errc::local_file_error, sys_error("cannot seek in " + path));
    return outcome::ok();
}

long upload_file::read(char* p, std::size_t n, std::string& error) {
    for (;;) {
        ssize_t r = ::read(fd_, p, n);
        if (r >= 0) return static_cast<long>(r);
        if (errno == EINTR) continue;
        error = sys_error("cannot read " + path_);
        return -1;
    }
}

}  // namespace ferry::client
