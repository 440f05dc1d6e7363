#pragma once
// TYPE A line-end conversion (RFC 959 section 3.1.1.1): the wire carries CR LF, Unix files LF.
#include <cstddef>
#include <string>

namespace ferry::proto {

// LF -> CR LF for downloads. out must hold 2 * n bytes; returns bytes written.
std::size_t lf_to_crlf(const char* in, std::size_t n, char* out);

// CR LF -> LF for uploads, keeping state across chunks (a CR at a chunk's end may pair with the
// LF at the next one's start). A lone CR is kept. Converts in place; returns the new length.
// data must have room for n + 1 bytes (a lone CR held back from the last chunk is re-inserted).
class crlf_to_lf {
public:
    std::size_t convert(char* data, std::size_t n);
    // Call at end of data: a pending CR is a lone CR and must be written.
    bool pending_cr() const { return pending_cr_; }

private:
    bool pending_cr_ = false;
};

// Size of a file's TYPE A transfer: bytes + number of LFs.
std::size_t ascii_size_increase(const char* in, std::size_t n);

}  // namespace ferry::proto
