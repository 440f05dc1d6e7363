#pragma once
// Virtual users: one "name:crypt-hash:home-folder[:options]" per line ('#' comments, blank lines
// allowed). Hashes are whatever crypt(3) (libxcrypt) verifies: SHA-512 ("$6$", openssl passwd -6),
// yescrypt ("$y$"), etc. Options, comma-separated, set what differs for that user:
//   readonly          no command that changes files (STOR, DELE, MKD, RNFR, ...)
//   download=RATE     replaces DOWNLOADRATE for this user (0: no limit); upload=RATE: UPLOADRATE
//   sha256=FP         logins only with this TLS client certificate (the password is still asked)
//   from=SUBNET       logins only from this subnet (repeat for more)
// so a home folder cannot contain ':'. No Asio/OpenSSL types here.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ferry::auth {

struct user {
    std::string name;
    std::string hash;
    std::string home;  // host folder, absolute (relative entries are made absolute by load())
    bool read_only = false;
    std::optional<std::uint64_t> download_rate;  // bytes/s; replaces DOWNLOADRATE when set
    std::optional<std::uint64_t> upload_rate;    // bytes/s; replaces UPLOADRATE when set
    std::string certificate;                     // "SHA256:AB:..." the client must present, or empty
    std::vector<std::string> networks;           // subnets logins may come from; empty: any
};

// What is wrong with a users file's options field (the text after the home folder), or nothing;
// sets the options in u.
std::optional<std::string> parse_user_options(std::string_view text, user& u);

class users_file {
public:
    // Parses text; on error returns false and sets error to "file:line: what is wrong".
    // Relative home folders are resolved against base_dir.
    bool parse(std::string_view text, std::string_view file_name, const std::string& base_dir,
               std::string& error);
    bool load(const std::string& path, const std::string& base_dir, std::string& error);

    const user* find(std::string_view name) const;
    // Verifies a password with crypt(3) and a constant-time compare. Unknown users cost the same
    // time as known ones (a dummy hash is checked), so timing does not reveal user names.
    const user* authenticate(std::string_view name, std::string_view password) const;
    std::size_t size() const { return users_.size(); }
    const std::vector<user>& all() const { return users_; }

private:
    std::vector<user> users_;
};

// Makes a SHA-512 crypt hash (for `ferryd serve`'s generated password and for tests).
std::string make_sha512_hash(std::string_view password);

}  // namespace ferry::auth
