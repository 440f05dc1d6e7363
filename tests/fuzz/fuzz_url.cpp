// client::parse_url on arbitrary text (the first byte says whether a bare host is allowed).
// Invariants: an accepted URL has a host and a port other than 0, and no control character in
// any part that is later written into a command (user, password, host, path): "%0D%0ADELE x"
// must never become a second command.
#include <cstdint>
#include <string>

#include "client/url.hpp"
#include "fuzz_check.hpp"

using ferry::fuzz::show;
using namespace ferry::client;

namespace {

bool has_control(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool bare = data[0] & 1;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string error;
    auto url = parse_url(text, bare, error);
    if (!url) {
        FUZZ_CHECK(!error.empty(), "refused without a message: " + show(text));
        return 0;
    }
    FUZZ_CHECK(!url->host.empty() && url->port != 0, "accepted without host or port: " + show(text));
    for (const std::string* part : {&url->user, &url->password, &url->host, &url->path})
        FUZZ_CHECK(!has_control(*part), "a control character got through in " + show(*part) + " from " + show(text));
    return 0;
}
