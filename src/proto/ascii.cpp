#include "proto/ascii.hpp"

#include <cstring>

namespace ferry::proto {

std::size_t lf_to_crlf(const char* in, std::size_t n, char* out) {
    std::size_t o = 0;
    const char* p = in;
    const char* end = in + n;
    while (p < end) {
        const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const char* stop = lf ? lf : end;
        std::memcpy(out + o, p, static_cast<std::size_t>(stop - p));
        o += static_cast<std::size_t>(stop - p);
        if (!lf) break;
        out[o++] = '\r';
        out[o++] = '\n';
        p = lf + 1;
    }
    return o;
}

std::size_t crlf_to_lf::convert(char* data, std::size_t n) {
    std::size_t o = 0;
    std::size_t i = 0;
    if (pending_cr_ && n > 0) {
        pending_cr_ = false;
        if (data[0] != '\n') {
            // The previous chunk's CR was a lone CR: it comes before this chunk's bytes. There is
            // no room in place for it, so shift (rare: lone CRs in text uploads).
            std::memmove(data + 1, data, n);  // caller's buffer has one spare byte
            data[0] = '\r';
            ++n;
            i = 1;
            o = 1;
        }
    }
    for (; i < n; ++i) {
        char c = data[i];
        if (c == '\r') {
            if (i + 1 == n) {
                pending_cr_ = true;
                break;
            }
            if (data[i + 1] == '\n') continue;  // drop the CR of CR LF
        }
        data[o++] = c;
    }
    return o;
}

std::size_t ascii_size_increase(const char* in, std::size_t n) {
    std::size_t count = 0;
    const char* p = in;
    const char* end = in + n;
    while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)))) != nullptr) {
        ++count;
        ++p;
    }
    return count;
}

}  // namespace ferry::proto
