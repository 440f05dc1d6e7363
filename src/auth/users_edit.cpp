#include "auth/users_edit.hpp"

#include <crypt.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>

#include "auth/users_file.hpp"

namespace ferry::auth {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

// The user a line defines (empty for a comment or a blank line).
std::string_view name_of(std::string_view line) {
    line = trim(line);
    if (line.empty() || line.front() == '#') return {};
    return line.substr(0, line.find(':'));
}

std::optional<std::string> check_field(std::string_view what, std::string_view v) {
    if (v.empty()) return std::string(what) + " is empty";
    for (unsigned char c : v)
        if (c < 0x20 || c == 0x7f) return std::string(what) + " contains a control character (a newline?)";
    return std::nullopt;
}

}  // namespace

std::optional<std::string> check_user_name(std::string_view name) {
    if (name.empty()) return "the user name is empty";
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) return "the user name contains a control character";
        if (c == ' ') return "the user name contains a space";
        if (c == ':') return "the user name contains ':' (it separates the fields of the users file)";
    }
    if (name.front() == '#') return "the user name starts with '#' (that line would be a comment)";
    return std::nullopt;
}

bool users_edit::parse(std::string_view text, std::string_view file_name, std::string& error) {
    // Whatever users_file refuses, ferryd would refuse to start with: not edited either.
    users_file check;
    if (!check.parse(text, file_name, "", error)) return false;
    lines_.clear();
    while (!text.empty()) {
        auto nl = text.find('\n');
        lines_.emplace_back(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
    return true;
}

std::size_t users_edit::find(std::string_view name) const {
    for (std::size_t i = 0; i < lines_.size(); ++i)
        if (name_of(lines_[i]) == name) return i;
    return std::string::npos;
}

std::vector<users_edit::entry> users_edit::list() const {
    std::vector<entry> out;
    for (const auto& l : lines_) {
        std::string_view line = trim(l);
        if (name_of(line).empty()) continue;
        const auto c1 = line.find(':'), c2 = line.find(':', c1 + 1), c3 = line.find(':', c2 + 1);
        const auto options = c3 == std::string_view::npos ? std::string_view() : line.substr(c3 + 1);
        out.push_back({std::string(line.substr(0, c1)), std::string(line.substr(c2 + 1, c3 - c2 - 1)), std::string(options)});
    }
    return out;
}

bool users_edit::add(std::string_view name, std::string_view hash, std::string_view home, std::string_view options,
                     std::string& error) {
    if (auto why = check_user_name(name)) {
        error = "cannot add \"" + std::string(name) + "\": " + *why;
        return false;
    }
    auto why_home = check_field("the home folder", home);
    if (!why_home && home.find(':') != std::string_view::npos)
        why_home = "the home folder contains ':' (it separates the fields of the users file)";
    if (why_home) {
        error = "cannot add \"" + std::string(name) + "\": " + *why_home;
        return false;
    }
    user parsed;
    if (auto why = parse_user_options(options, parsed)) {
        error = "cannot add \"" + std::string(name) + "\": " + *why;
        return false;
    }
    if (auto why = check_field("the password hash", hash); why || hash.find(':') != std::string_view::npos) {
        error = "cannot add \"" + std::string(name) + "\": the password hash is not a crypt(3) hash";
        return false;
    }
    if (find(name) != std::string::npos) {
        error = "user \"" + std::string(name) + "\" already exists (ferryd user passwd changes the password)";
        return false;
    }
    lines_.push_back(std::string(name) + ":" + std::string(hash) + ":" + std::string(home) +
                     (options.empty() ? "" : ":" + std::string(options)));
    return true;
}

bool users_edit::set_hash(std::string_view name, std::string_view hash, std::string& error) {
    const std::size_t i = find(name);
    if (i == std::string::npos) {
        error = "no user \"" + std::string(name) + "\" in the users file";
        return false;
    }
    if (check_field("the password hash", hash) || hash.find(':') != std::string_view::npos) {
        error = "the password hash for \"" + std::string(name) + "\" is not a crypt(3) hash";
        return false;
    }
    // name:hash:home -> name:<new hash>:home, the rest of the line (home, indentation) as it was
    std::string& line = lines_[i];
    const auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
    line = line.substr(0, c1 + 1) + std::string(hash) + line.substr(c2);
    return true;
}

bool users_edit::remove(std::string_view name, std::string& error) {
    const std::size_t i = find(name);
    if (i == std::string::npos) {
        error = "no user \"" + std::string(name) + "\" in the users file";
        return false;
    }
    lines_.erase(lines_.begin() + static_cast<std::ptrdiff_t>(i));
    return true;
}

std::string users_edit::text() const {
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
}

std::string make_yescrypt_hash(std::string_view password) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    // count 0: libxcrypt's default cost; NULL random bytes: the salt comes from the OS.
    if (!::crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting))
        throw std::system_error(errno, std::generic_category(), "crypt_gensalt_rn($y$)");
    auto data = std::make_unique<crypt_data>();
    std::string pw(password);
    const char* out = ::crypt_r(pw.c_str(), setting, data.get());
    std::memset(pw.data(), 0, pw.size());
    if (!out || out[0] == '*') throw std::system_error(EINVAL, std::generic_category(), "crypt_r($y$)");
    return out;
}

bool replace_file_atomically(const std::string& given, std::string_view text, std::string& error) {
    // A symbolic link stays one: its target is what gets replaced.
    std::string path = given;
    if (char* real = ::realpath(given.c_str(), nullptr)) {
        path = real;
        std::free(real);
    }
    struct stat old{};
    const bool exists = ::stat(path.c_str(), &old) == 0;
    if (exists && !S_ISREG(old.st_mode)) {
        error = given + ": not a regular file";
        return false;
    }
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    std::string tmp = path + ".XXXXXX";
    int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // created 0600
    if (fd < 0) {
        error = dir + ": cannot create a temporary file beside " + given + ": " + std::strerror(errno);
        return false;
    }
    auto fail = [&](const std::string& what) {
        error = given + ": " + what + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    };
    for (std::size_t off = 0; off < text.size();) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("cannot write the new file");
        off += static_cast<std::size_t>(n);
    }
    if (exists) {
        // SECURITY: the users file holds the password hashes: it keeps exactly its mode and owner,
        // so an edit never makes it readable to more people (or takes it away from ferryd).
        if ((old.st_uid != ::geteuid() || old.st_gid != ::getegid()) && ::fchown(fd, old.st_uid, old.st_gid) != 0)
            return fail("cannot give the new file the old one's owner (run as that user or root)");
        if (::fchmod(fd, old.st_mode & 07777) != 0) return fail("cannot give the new file the old one's mode");
    }
    if (::fsync(fd) != 0) return fail("cannot write the new file to disk");
    if (::close(fd) != 0) {
        error = given + ": cannot write the new file: " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        error = given + ": cannot rename the new file into place: " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    // The rename itself on disk too.
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

}  // namespace ferry::auth
