#pragma once
// Where downloaded bytes go and uploaded bytes come from. Downloads go to a temporary file that
// replaces the target only when complete, so a failed download never destroys an existing file.
#include <cstdint>
#include <string>

#include "client/error.hpp"

namespace ferry::client {

class data_sink {
public:
    virtual ~data_sink() = default;
    virtual bool write(const char* data, std::size_t n, std::string& error) = 0;
};

class data_source {
public:
    virtual ~data_source() = default;
    // Bytes read, 0 at the end, -1 on error (error set).
    virtual long read(char* data, std::size_t n, std::string& error) = 0;
    virtual std::uint64_t size() const = 0;
};

// Listings and small downloads in memory, bounded.
class memory_sink : public data_sink {
public:
    explicit memory_sink(std::size_t limit = 256u << 20) : limit_(limit) {}
    bool write(const char* data, std::size_t n, std::string& error) override;
    std::string data;

private:
    std::size_t limit_;
};

// A download into "<target>.ferry-part", renamed to target by commit().
class download_file : public data_sink {
public:
    download_file() = default;
    ~download_file() override;
    download_file(const download_file&) = delete;
    download_file& operator=(const download_file&) = delete;

    static std::string part_name(const std::string& target) { return target + ".ferry-part"; }

    // resume: continue "<target>.ferry-part" if it exists, else continue target itself (moved to
    // the .ferry-part name first); offset receives the bytes already there. Without resume the
    // temporary file starts empty.
    outcome open(const std::string& target, bool resume, std::uint64_t& offset);
    bool write(const char* data, std::size_t n, std::string& error) override;
    // Flushes, closes and renames over the target.
    outcome commit();
    // After a failure: keeps a non-empty temporary file for a later resume, removes an empty
    // one. Returns a note for the user ("partial download kept in X") or empty.
    std::string abandon();
    // After a download found bad (--verify): removes the temporary file, keeps the target.
    void discard();
    const std::string& part_path() const { return part_; }
    // Bytes written since open() (a retry continues after them).
    std::uint64_t written() const { return written_; }

private:
    int fd_ = -1;
    std::string target_, part_;
    std::uint64_t written_ = 0, start_ = 0;
};

// Standard output as a sink (ferry get URL -).
class fd_sink : public data_sink {
public:
    explicit fd_sink(int fd) : fd_(fd) {}
    bool write(const char* data, std::size_t n, std::string& error) override;
    std::uint64_t written() const { return written_; }

private:
    int fd_;
    std::uint64_t written_ = 0;
};

class upload_file : public data_source {
public:
    upload_file() = default;
    ~upload_file() override;
    upload_file(const upload_file&) = delete;
    upload_file& operator=(const upload_file&) = delete;
    // path "-" reads standard input (size unknown).
    outcome open(const std::string& path, std::uint64_t offset);
    long read(char* data, std::size_t n, std::string& error) override;
    std::uint64_t size() const override { return size_; }

private:
    int fd_ = -1;
    bool owned_ = false;
    std::uint64_t size_ = 0;
    std::string path_;
};

}  // namespace ferry::client
