// proto's TYPE A codec on arbitrary bytes, cut into arbitrary chunks (the first byte seeds the
// chunk sizes). Invariants: lf_to_crlf writes n + (number of LFs) bytes, which is what
// ascii_size_increase announces for SIZE; crlf_to_lf undoes lf_to_crlf exactly whatever the
// chunking (a CR at a chunk's end paired with the next chunk's LF, lone CRs kept); and
// crlf_to_lf gives the same bytes chunked as in one piece.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/ascii.hpp"

using ferry::fuzz::show;
using namespace ferry::proto;

namespace {

// Decodes in chunks whose sizes follow seed; each chunk gets the one spare byte convert() needs.
std::string decode_in_chunks(const std::string& wire, std::uint8_t seed) {
    crlf_to_lf conv;
    std::string out;
    std::vector<char> buf;
    std::size_t pos = 0;
    unsigned step = seed;
    while (pos < wire.size()) {
        step = step * 1103515245u + 12345u;
        std::size_t n = std::min<std::size_t>(wire.size() - pos, 1 + (step >> 16) % 17);
        buf.assign(n + 1, 0);
        std::memcpy(buf.data(), wire.data() + pos, n);
        out.append(buf.data(), conv.convert(buf.data(), n));
        pos += n;
    }
    if (conv.pending_cr()) out.push_back('\r');
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t seed = data[0];
    const std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);

    std::string wire(2 * file.size(), '\0');
    wire.resize(lf_to_crlf(file.data(), file.size(), wire.data()));
    FUZZ_CHECK(wire.size() == file.size() + ascii_size_increase(file.data(), file.size()),
               "SIZE in TYPE A disagrees with the bytes sent for " + show(file));
    FUZZ_CHECK(decode_in_chunks(wire, seed) == file, "round trip changed " + show(file));
    FUZZ_CHECK(decode_in_chunks(file, seed) == decode_in_chunks(file, static_cast<std::uint8_t>(seed + 1)),
               "chunking changed the decoding of " + show(file));
    return 0;
}
