#pragma once
// Client certificate -> user mapping for SECURE_LOGIN VERIFY_USER (the seed's RACF certificate
// registration). One entry a line:
//   user  sha256=AB:CD:...            [ports=21,990]
//   user  subject="CN=Alice,O=Example" issuer="CN=Example CA,O=Example" [ports=21]
// '#' starts a comment. ports= is level 3: the user may only log in through these server ports.
// A subject always comes with its issuer: any CA in CAFILE can write any subject.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::auth {

struct cert_mapping {
    std::string user;
    std::string fingerprint;  // normalised "SHA256:AB:CD:..." (upper case), or empty
    std::string subject;      // RFC 2253 subject, or empty
    std::string issuer;       // RFC 2253 issuer; set whenever subject is
    std::vector<std::uint16_t> ports;  // empty: any port
    bool allows_port(std::uint16_t port) const;
};

class cert_map {
public:
    bool parse(std::string_view text, std::string_view file_name, std::string& error);
    bool load(const std::string& path, std::string& error);
    // The mapping for a certificate, by fingerprint first, then by subject and issuer together;
    // null if none.
    const cert_mapping* find(std::string_view fingerprint, std::string_view subject, std::string_view issuer) const;
    std::size_t size() const { return entries_.size(); }
    const std::vector<cert_mapping>& all() const { return entries_; }

private:
    std::vector<cert_mapping> entries_;
};

// "sha256:ab:cd..." / "ABCD..." -> "SHA256:AB:CD:..." so that any common spelling matches.
std::string normalise_fingerprint(std::string_view text);

}  // namespace ferry::auth
