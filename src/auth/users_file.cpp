// Virtual users file: "name:crypt-hash:home[:options]" per line, verified with libxcrypt's crypt_r.
#include "auth/users_file.hpp"

#include <crypt.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include "auth/cert_map.hpp"
#include "config/values.hpp"

namespace ferry::auth {

namespace {

// Used when the user name is unknown (and the file is empty), so that the reply takes as long
// as for a real user. It is the hash of no password anyone can send successfully: the result
// is discarded anyway.
constexpr const char* dummy_sha512 =
    "$6$ferry.dummy.salt$S8Bj4ZztYdcLfWa1kKFt1umZMyHpHytOuSBJWvY7vuLEh4qH.hdYZj6NHmhh2MlOyF3RGK"
    "sou75tZ5PYHFcan0";

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

bool valid_name(std::string_view n) {
    for (unsigned char c : n)
        if (c <= 0x20 || c == 0x7f) return false;  // space and control characters
    return true;
}

// SECURITY: timing side channel. Compares every byte whatever the first difference is, so the
// time taken does not tell an attacker how much of the hash matched.
bool equal_constant_time(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;  // hash lengths are public (fixed per method)
    volatile unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// crypt_r's work area is ~32 KiB: keep it off the coroutine stacks.
std::string run_crypt(std::string_view password, const std::string& setting) {
    auto data = std::make_unique<crypt_data>();  // zeroed, as crypt_r requires
    std::string pw(password);
    const char* out = ::crypt_r(pw.c_str(), setting.c_str(), data.get());
    // libxcrypt signals failure with NULL or a string starting with '*'.
    if (!out || out[0] == '*') return {};
    return out;
}

}  // namespace

std::optional<std::string> parse_user_options(std::string_view text, user& u) {
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        const auto eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
        const std::string quoted = "'" + std::string(value) + "'";
        if (item == "readonly") {
            u.read_only = true;
        } else if (key == "download" || key == "upload") {
            auto r = config::parse_rate(value);
            if (!r) return std::string(key) + "=" + quoted + ": the rate is " + std::string(config::rate_syntax);
            (key == "download" ? u.download_rate : u.upload_rate) = *r;
        } else if (key == "sha256") {
            u.certificate = normalise_fingerprint(value);
            if (u.certificate.empty()) return "sha256=" + quoted + " is not a SHA-256 fingerprint (64 hex digits, colons allowed)";
        } else if (key == "from") {
            if (!config::is_subnet(value)) return "from=" + quoted + " is not a subnet such as 192.168.0.0/16";
            u.networks.emplace_back(value);
        } else if (!item.empty()) {
            return "unknown option '" + std::string(item) + "' (readonly, download=, upload=, sha256=, from=)";
        }
    }
    return std::nullopt;
}

bool users_file::parse(std::string_view text, std::string_view file_name,
                       const std::string& base_dir, std::string& error) {
    std::vector<user> users;
    std::vector<std::size_t> defined_on;
    std::size_t line_no = 0;
    auto fail = [&](const std::string& what) {
        error = std::string(file_name) + ":" + std::to_string(line_no) + ": " + what;
        return false;
    };
    while (!text.empty() || line_no == 0) {
        ++line_no;
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        line = trim(line);
        if (line.empty() || line.front() == '#') {
            if (text.empty()) break;
            continue;
        }
        // Three fields and options, split on the first three ':' (crypt hashes never contain
        // ':'; fingerprints among the options do).
        auto c1 = line.find(':');
        auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
        if (c2 == std::string_view::npos) return fail("expected \"name:hash:home\" or \"name:hash:home:options\"");
        auto c3 = line.find(':', c2 + 1);
        std::string_view name = line.substr(0, c1);
        std::string_view hash = line.substr(c1 + 1, c2 - c1 - 1);
        std::string_view home = line.substr(c2 + 1, c3 == std::string_view::npos ? c3 : c3 - c2 - 1);
        std::string_view options = c3 == std::string_view::npos ? std::string_view() : line.substr(c3 + 1);
        if (name.empty()) return fail("user name is empty");
        if (!valid_name(name))
            return fail("user name \"" + std::string(name) +
                        "\" contains a space or control character");
        // SECURITY: plaintext credentials. Only crypt(3) hashes are accepted, so a leaked
        // users file does not leak passwords.
        if (hash.empty() || hash.front() != '$')
            return fail("password of user \"" + std::string(name) +
                        "\" is not a crypt(3) hash (it must start with '$'; make one with "
                        "`openssl passwd -6`)");
        switch (::crypt_checksalt(std::string(hash).c_str())) {
        case CRYPT_SALT_OK:
            break;
        case CRYPT_SALT_METHOD_LEGACY:
            return fail("password hash of user \"" + std::string(name) +
                        "\" uses an obsolete method; make a new one with `openssl passwd -6`");
        default:
            return fail("password hash of user \"" + std::string(name) +
                        "\" is malformed or uses a method this system's crypt(3) does not "
                        "support");
        }
        if (home.empty()) return fail("home folder of user \"" + std::string(name) + "\" is empty");
        for (std::size_t i = 0; i < users.size(); ++i)
            if (users[i].name == name)
                return fail("user \"" + std::string(name) + "\" is already defined on line " +
                            std::to_string(defined_on[i]));
        user u;
        if (auto why = parse_user_options(options, u))
            return fail("user \"" + std::string(name) + "\": " + *why);
        u.name = std::string(name);
        u.hash = std::string(hash);
        if (home.front() == '/' || base_dir.empty()) {
            u.home = std::string(home);
        } else {
            u.home = base_dir;
            if (u.home.back() != '/') u.home += '/';
            u.home += home;
        }
        users.push_back(std::move(u));
        defined_on.push_back(line_no);
        if (text.empty()) break;
    }
    users_ = std::move(users);
    error.clear();
    return true;
}

bool users_file::load(const std::string& path, const std::string& base_dir, std::string& error) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = path + ": cannot open: " + std::strerror(errno);
        return false;
    }
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        error = path + ": not a regular file";
        return false;
    }
    // SECURITY: privilege escalation. Anyone who can write the users file can add a user.
    if (st.st_mode & S_IWOTH) {
        ::close(fd);
        error = path + ": is writable by everyone; run `chmod o-w " + path + "`";
        return false;
    }
    std::string text;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            error = path + ": cannot read: " + std::strerror(errno);
            ::close(fd);
            return false;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return parse(text, path, base_dir, error);
}

const user* users_file::find(std::string_view name) const {
    for (const auto& u : users_)
        if (u.name == name) return &u;
    return nullptr;
}

const user* users_file::authenticate(std::string_view name, std::string_view password) const {
    // SECURITY: credential truncation. crypt(3) stops at a NUL, so "secret\0junk" would
    // verify as "secret"; such passwords are refused outright.
    if (password.find('\0') != std::string_view::npos) return nullptr;
    const user* u = find(name);
    // SECURITY: user enumeration by timing. Unknown users still cost one crypt_r call, with
    // the first user's hash settings (same method and cost as real users) or a fixed SHA-512
    // hash when the file is empty. The result is discarded.
    if (!u) {
        run_crypt(password, users_.empty() ? std::string(dummy_sha512) : users_.front().hash);
        return nullptr;
    }
    std::string out = run_crypt(password, u->hash);
    if (out.empty()) return nullptr;
    return equal_constant_time(out, u->hash) ? u : nullptr;
}

std::string make_sha512_hash(std::string_view password) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    // NULL random bytes: libxcrypt draws the salt from the OS (getrandom/getentropy).
    if (!::crypt_gensalt_rn("$6$", 0, nullptr, 0, setting, sizeof setting))
        throw std::system_error(errno, std::generic_category(), "crypt_gensalt_rn");
    std::string out = run_crypt(password, setting);
    if (out.empty()) throw std::system_error(EINVAL, std::generic_category(), "crypt_r");
    return out;
}

}  // namespace ferry::auth
