// auth::cert_map::parse on arbitrary text (the CERTMAP file, issue 12). Invariants: a refusal
// reads "fuzz.certmap:<line>: <message>" naming a line that exists; an accepted file gives
// entries with a user and either a normalised SHA-256 fingerprint or a subject with its issuer
// (never a subject alone), and find() returns an entry for each of them.
#include <algorithm>
#include <cstdint>
#include <string>

#include "auth/cert_map.hpp"
#include "fuzz_check.hpp"

using ferry::fuzz::show;
using namespace ferry::auth;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    cert_map map;
    std::string error;
    if (!map.parse(text, "fuzz.certmap", error)) {
        ferry::fuzz::check_file_line_error(error, "fuzz.certmap", text);
        return 0;
    }
    // Lookups by fuzzed strings never crash, whatever the map holds.
    (void)map.find(text.substr(0, 80), text.substr(0, std::min<std::size_t>(40, size)), text.substr(std::min<std::size_t>(40, size)));
    for (const auto& e : map.all()) {
        FUZZ_CHECK(!e.user.empty(), "an entry without a user from " + show(text));
        FUZZ_CHECK(!e.fingerprint.empty() || !e.subject.empty(), "an entry matching nothing: " + show(e.user));
        FUZZ_CHECK(e.subject.empty() || !e.issuer.empty(), "subject= without its issuer: " + show(e.subject));
        if (!e.fingerprint.empty()) {
            FUZZ_CHECK(e.fingerprint.rfind("SHA256:", 0) == 0, "fingerprint not normalised: " + show(e.fingerprint));
            FUZZ_CHECK(normalise_fingerprint(e.fingerprint) == e.fingerprint, "normalising twice changes " + show(e.fingerprint));
        }
        const cert_mapping* found = map.find(e.fingerprint, e.subject, e.issuer);
        FUZZ_CHECK(found != nullptr, "find() misses the entry of " + show(e.user));
    }
    return 0;
}
