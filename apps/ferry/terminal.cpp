#include "terminal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#ifdef FERRY_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

namespace ferry::cli {

bool stdin_is_tty() { return ::isatty(0) == 1; }
bool stdout_is_tty() { return ::isatty(1) == 1; }

namespace {

// The terminal is written to directly (the prompt and the newline echo hides); a short write is
// retried, an error gives up: the prompt is a courtesy, the answer is still read.
void tty_write(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n <= 0) return;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::optional<std::string> tty_read(const std::string& prompt, bool hide) {
    int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return std::nullopt;
    termios old{};
    bool restore = false;
    // Echo goes off before the prompt appears, so that nothing typed after it is shown.
    if (hide && ::tcgetattr(fd, &old) == 0) {
        termios t = old;
        t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        restore = ::tcsetattr(fd, TCSANOW, &t) == 0;
    }
    tty_write(fd, prompt);
    std::string line;
    char c;
    bool got = false;
    while (::read(fd, &c, 1) == 1) {
        got = true;
        if (c == '\n') break;
        if (c != '\r') line += c;
    }
    if (restore) {
        ::tcsetattr(fd, TCSANOW, &old);
        tty_write(fd, "\n");
    }
    ::close(fd);
    if (!got) return std::nullopt;
    return line;
}

}  // namespace

std::optional<std::string> prompt_hidden(const std::string& prompt) { return tty_read(prompt, true); }
std::optional<std::string> prompt_line(const std::string& prompt) { return tty_read(prompt, false); }

line_editor::line_editor() {
#ifdef FERRY_HAVE_LIBEDIT
    std::string dir;
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x)
        dir = std::string(x) + "/ferry";
    else if (const char* h = std::getenv("HOME"); h && *h)
        dir = std::string(h) + "/.local/state/ferry";
    if (!dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        history_file_ = dir + "/history";
    }
    using_history();
    stifle_history(1000);
    if (!history_file_.empty()) read_history(history_file_.c_str());
#endif
}

line_editor::~line_editor() {
#ifdef FERRY_HAVE_LIBEDIT
    if (!history_file_.empty()) {
        write_history(history_file_.c_str());
        ::chmod(history_file_.c_str(), 0600);
    }
#endif
}

std::optional<std::string> line_editor::read(const std::string& prompt) {
#ifdef FERRY_HAVE_LIBEDIT
    if (stdin_is_tty()) {
        char* l = readline(prompt.c_str());
        if (!l) return std::nullopt;
        std::string s(l);
        std::free(l);
        // Lines that hold a password (user NAME PASSWORD) stay out of the history file.
        if (!s.empty() && s.rfind("user ", 0) != 0 && s.rfind("open ", 0) != 0) add_history(s.c_str());
        return s;
    }
#endif
    std::cout << prompt << std::flush;
    std::string s;
    if (!std::getline(std::cin, s)) return std::nullopt;
    return s;
}

void progress_bar::update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (first_done_ == UINT64_MAX) first_done_ = done;
    bool complete = total && done >= total;
    if (shown_ && !complete && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    shown_ = true;
    double secs = std::chrono::duration<double>(now - start_).count();
    std::uint64_t moved = done - first_done_;
    std::string line = "\r" + name_.substr(0, 30) + "  ";
    if (total) {
        char pct[16];
        std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)));
        line += std::string(pct) + "  " + human_bytes(static_cast<double>(done)) + " / " + human_bytes(static_cast<double>(total));
    } else {
        line += human_bytes(static_cast<double>(done));
    }
    line += "  " + human_rate(moved, secs);
    if (total && moved && done < total) {
        double eta = secs * static_cast<double>(total - done) / static_cast<double>(moved);
        char e[32];
        std::snprintf(e, sizeof e, "  ETA %d:%02d", static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
        line += e;
    }
    line += "   ";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}

void progress_bar::finish() {
    if (enabled_ && shown_) {
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }
    shown_ = false;
    enabled_ = false;
}

}  // namespace ferry::cli
