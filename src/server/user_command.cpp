#include "server/user_command.hpp"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <algorithm>

#include "auth/users_edit.hpp"
#include "auth/users_file.hpp"
#include "config/settings.hpp"
#include "config/statement.hpp"

namespace fs = std::filesystem;

namespace ferry::server {

namespace {

// One line from fd (without its end), byte by byte so nothing after it is consumed.
bool read_line(int fd, std::string& line) {
    line.clear();
    for (;;) {
        char c;
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return !line.empty();
        if (c == '\n') break;
        line += c;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
}

// Asks on the terminal with echo off (restored whatever happens).
std::optional<std::string> ask(int fd, const char* prompt) {
    std::fputs(prompt, stderr);
    std::fflush(stderr);
    termios old{};
    const bool tty = ::tcgetattr(fd, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        quiet.c_lflag |= ECHONL;
        ::tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    std::string line;
    const bool got = read_line(fd, line);
    if (tty) ::tcsetattr(fd, TCSAFLUSH, &old);
    if (!got) return std::nullopt;
    return line;
}

}  // namespace

std::optional<std::string> read_new_password(bool from_stdin, std::string& error) {
    std::optional<std::string> pw;
    if (!from_stdin && ::isatty(STDIN_FILENO)) {
        pw = ask(STDIN_FILENO, "Password: ");
        auto again = pw ? ask(STDIN_FILENO, "Enter it again: ") : std::nullopt;
        if (pw && again && *pw != *again) {
            error = "the two passwords differ; nothing changed";
            return std::nullopt;
        }
    } else {
        std::string line;
        if (read_line(STDIN_FILENO, line)) pw = line;
    }
    if (!pw || pw->empty()) {
        error = "no password given (an empty password is refused); nothing changed";
        return std::nullopt;
    }
    if (pw->find('\0') != std::string::npos) {
        error = "the password contains a NUL byte; nothing changed";
        return std::nullopt;
    }
    return pw;
}

int run_user_command(const user_command_options& o, std::FILE* out, std::FILE* err) {
    std::string path = o.users_file, error;
    if (path.empty()) {
        if (o.config_file.empty()) {
            std::fprintf(err, "ferryd user: give --users FILE, or --config FILE with a USERS statement\n");
            return 2;
        }
        config::server_settings s;
        if (!config::load_server_settings(o.config_file, s, error)) {
            std::fprintf(err, "ferryd user: %s\n", error.c_str());
            return 2;
        }
        if (s.users.empty()) {
            std::fprintf(err, "ferryd user: %s has no USERS statement; give --users FILE\n", o.config_file.c_str());
            return 2;
        }
        path = s.users;
        // As ferryd reads it: relative to the configuration file's folder.
        if (fs::path(path).is_relative()) path = (fs::absolute(o.config_file).parent_path() / path).string();
    }
    std::string text;
    struct stat st{};
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && !config::read_file(path, text, error)) {
        std::fprintf(err, "ferryd user: %s\n", error.c_str());
        return 1;
    }
    if (!exists && o.action != "add") {
        std::fprintf(err, "ferryd user: %s: %s\n", path.c_str(), std::strerror(errno));
        return 1;
    }
    auth::users_edit users;
    if (!users.parse(text, path, error)) {
        std::fprintf(err, "ferryd user: %s (fix the file first)\n", error.c_str());
        return 2;
    }
    if (o.action == "list") {
        for (const auto& e : users.list())
            std::fprintf(out, "%s\t%s%s%s\n", e.name.c_str(), e.home.c_str(), e.options.empty() ? "" : "\t",
                         e.options.c_str());
        return 0;
    }
    bool ok = false;
    if (o.action == "del") {
        ok = users.remove(o.name, error);
    } else if (o.action == "add" || o.action == "passwd") {
        // Checked before the password is asked for.
        if (o.action == "add") {
            if (auto why = auth::check_user_name(o.name)) {
                std::fprintf(err, "ferryd user add: %s\n", why->c_str());
                return 2;
            }
            auth::user parsed;
            if (auto why = auth::parse_user_options(o.options, parsed)) {
                std::fprintf(err, "ferryd user add: --options: %s\n", why->c_str());
                return 2;
            }
            for (const auto& e : users.list())
                if (e.name == o.name) {
                    std::fprintf(err, "ferryd user add: user \"%s\" already exists in %s (ferryd user passwd changes "
                                      "the password)\n", o.name.c_str(), path.c_str());
                    return 2;
                }
        } else {
            bool known = false;
            for (const auto& e : users.list()) known = known || e.name == o.name;
            if (!known) {
                std::fprintf(err, "ferryd user passwd: no user \"%s\" in %s\n", o.name.c_str(), path.c_str());
                return 2;
            }
        }
        auto pw = read_new_password(o.password_stdin, error);
        if (!pw) {
            std::fprintf(err, "ferryd user %s: %s\n", o.action.c_str(), error.c_str());
            return 2;
        }
        const std::string hash = auth::make_yescrypt_hash(*pw);
        std::fill(pw->begin(), pw->end(), '\0');
        ok = o.action == "add" ? users.add(o.name, hash, o.home, o.options, error) : users.set_hash(o.name, hash, error);
    } else {
        std::fprintf(err, "ferryd user: unknown action '%s' (add, del, passwd or list)\n", o.action.c_str());
        return 2;
    }
    if (!ok) {
        std::fprintf(err, "ferryd user %s: %s\n", o.action.c_str(), error.c_str());
        return 2;
    }
    if (!auth::replace_file_atomically(path, users.text(), error)) {
        std::fprintf(err, "ferryd user %s: %s; nothing changed\n", o.action.c_str(), error.c_str());
        return 1;
    }
    const char* done = o.action == "add" ? "added" : o.action == "del" ? "deleted" : "password changed";
    std::fprintf(out, "%s: user \"%s\" %s. A running ferryd reads it on SIGHUP (systemctl reload ferryd).\n",
                 path.c_str(), o.name.c_str(), done);
    if (o.action == "add") {
        fs::path home(o.home);
        if (home.is_relative()) home = fs::absolute(path).parent_path() / home;
        std::error_code ec;
        if (!fs::is_directory(home, ec))
            std::fprintf(err, "ferryd user add: warning: the home folder %s does not exist yet; create it before \"%s\" "
                              "logs in\n", home.string().c_str(), o.name.c_str());
    }
    return 0;
}

}  // namespace ferry::server
