#include "app.hpp"

#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/signal_set.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fmt/core.h>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/data_io.hpp"
#include "client/known_servers.hpp"
#include "client/netrc.hpp"
#include "config/schema.hpp"
#include "proto/printable.hpp"
#include "terminal.hpp"

namespace fs = std::filesystem;

namespace ferry::cli {

using client::outcome;

namespace {

// Words of a command line: white space separates, "double" or 'single' quotes group, and a
// backslash escapes the next character (outside single quotes).
std::vector<std::string> split_words(const std::string& line, std::string& error) {
    std::vector<std::string> out;
    std::string cur;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quote) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
                cur += line[++i];
            } else {
                cur += c;
            }
            continue;
        }
        if (c == '"' || c == '\'') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < line.size()) {
            cur += line[++i];
            in_word = true;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            if (in_word) out.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur += c;
            in_word = true;
        }
    }
    if (quote) {
        error = "unterminated quote";
        return {};
    }
    if (in_word) out.push_back(std::move(cur));
    return out;
}

// The text after the command word, as typed (quote/site/locsite send it unchanged).
std::string rest_of_line(const std::string& line) {
    std::size_t i = 0;
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::string r = line.substr(i);
    while (!r.empty() && std::isspace(static_cast<unsigned char>(r.back()))) r.pop_back();
    return r;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string base_name(const std::string& path) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    auto s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dir_name(const std::string& path) {
    auto s = path.rfind('/');
    if (s == std::string::npos) return {};
    if (s == 0) return "/";
    return path.substr(0, s);
}

std::string join_remote(const std::string& dir, const std::string& name) {
    if (dir.empty()) return name;
    if (dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

bool has_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::string long_line(const proto::list_entry& e) {
    const auto& f = e.info;
    std::string mode(10, '-');
    mode[0] = f.type == proto::file_info::kind::dir ? 'd' : f.type == proto::file_info::kind::link ? 'l' : f.type == proto::file_info::kind::other ? '?' : '-';
    const char* rwx = "rwx";
    for (int i = 0; i < 9; ++i)
        if (f.mode & (0400u >> i)) mode[1 + i] = rwx[i % 3];
    std::string when = "                ";
    if (e.has_mtime) {
        std::time_t t = static_cast<std::time_t>(f.mtime);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
        when = buf;
    }
    std::string line = fmt::format("{} {:>14} {} {}", mode, f.size, when, f.name);
    if (!e.link_target.empty()) line += " -> " + e.link_target;
    return line;
}

std::string read_first_line(const std::string& path, std::string& error) {
    std::ifstream in(path);
    if (!in) {
        error = path + ": cannot read the password file";
        return {};
    }
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    return line;
}

}  // namespace

app::app(options o) : opts_(std::move(o)), verbose_(opts_.verbose) {}

app::~app() {
    if (sess_ && sess_->connected()) run_void(sess_->quit());
}

template <class T>
T app::run(asio::awaitable<T> op) {
    std::optional<T> result;
    std::exception_ptr ep;
    asio::signal_set sigs(io_);
    if (interactive_) {
        // Ctrl-C during an operation ends it (and the connection), not the program.
        sigs.add(SIGINT);
        sigs.async_wait([this](std::error_code ec, int) {
            if (ec || !sess_) return;
            std::fputs("\nferry: interrupted; closing the connection\n", stderr);
            sess_->interrupt();
        });
    }
    asio::co_spawn(io_, std::move(op), [&](std::exception_ptr e, T v) {
        ep = e;
        result = std::move(v);
        std::error_code ec;
        sigs.cancel(ec);
    });
    io_.restart();
    io_.run();
    if (ep) std::rethrow_exception(ep);
    return std::move(*result);
}

void app::run_void(asio::awaitable<void> op) {
    std::exception_ptr ep;
    asio::co_spawn(io_, std::move(op), [&](std::exception_ptr e) { ep = e; });
    io_.restart();
    io_.run();
    if (ep) std::rethrow_exception(ep);
}

bool app::configure(std::string& error) {
    config::client_settings s;
    std::string file = opts_.config_file;
    if (file.empty()) {
        std::string def;
        if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
            def = std::string(x) + "/ferry/ferry.conf";
        else if (const char* h = std::getenv("HOME"); h && *h)
            def = std::string(h) + "/.config/ferry/ferry.conf";
        std::error_code ec;
        if (!def.empty() && fs::exists(def, ec)) file = def;
    }
    if (!file.empty() && !config::load_client_settings(file, s, error)) return false;
    if (!opts_.sets.empty()) {
        std::string text;
        for (const auto& line : opts_.sets) {
            // "EPSV4=TRUE" and "EPSV4 TRUE" both work
            std::string l = line;
            if (auto eq = l.find('='); eq != std::string::npos && l.find(' ') == std::string::npos) l[eq] = ' ';
            text += l + "\n";
        }
        if (!config::parse_client_settings(text, "--set", s, error)) return false;
    }
    if (opts_.passive) s.fwfriendly = true;
    if (opts_.active) s.fwfriendly = false;
    if (opts_.epsv) s.epsv4 = true;
    if (opts_.ignore_pasv) s.passive_ignore_addr = true;
    if (opts_.allow_plain) s.require_tls = false;
    if (opts_.ccc && s.tls_rfc == config::tls_rfc_level::draft) s.tls_rfc = config::tls_rfc_level::rfc4217;
    if (!opts_.prot.empty()) {
        std::string p = lower(opts_.prot);
        if (p == "p" || p == "private") s.dataconn = config::data_protection::private_;
        else if (p == "c" || p == "clear") s.dataconn = config::data_protection::clear;
        else {
            error = "--prot takes C (clear data) or P (private data), not '" + opts_.prot + "'";
            return false;
        }
    }
    auto version = [&](const std::string& v, bool allow_any, config::tls_version& out) {
        if (v.empty()) return true;
        std::string l = lower(v);
        if (l == "1.2" || l == "tlsv1.2") out = config::tls_version::tls1_2;
        else if (l == "1.3" || l == "tlsv1.3") out = config::tls_version::tls1_3;
        else if (allow_any && l == "any") out = config::tls_version::any;
        else {
            error = "TLS version '" + v + "': use 1.2 or 1.3";
            return false;
        }
        return true;
    };
    if (!version(opts_.tls_min, false, s.tls_min) || !version(opts_.tls_max, true, s.tls_max)) return false;
    if (!opts_.ca.empty()) s.ca_file = opts_.ca;
    if (!opts_.cert.empty()) s.cert_file = opts_.cert;
    if (!opts_.key.empty()) s.key_file = opts_.key;
    if (opts_.timeout > 0) s.connect_timeout = s.reply_timeout = s.data_timeout = static_cast<unsigned>(opts_.timeout);
    if (opts_.keepalive >= 0) s.keepalive_seconds = static_cast<unsigned>(opts_.keepalive);
    if (!s.key_file.empty() && s.cert_file.empty()) {
        error = "--key (KEYFILE) needs --cert (CERTFILE)";
        return false;
    }
    settings_ = s;
    trust_.insecure = opts_.insecure;
    trust_.fingerprint = opts_.fingerprint;
    if (trust_.insecure && !trust_.fingerprint.empty()) {
        error = "--insecure and --fingerprint contradict each other; give one";
        return false;
    }
    return true;
}

void app::info(const std::string& text) const {
    if (interactive_) {
        std::fputs((text + "\n").c_str(), stdout);
        std::fflush(stdout);
    } else if (verbose_) {
        std::fputs((text + "\n").c_str(), stderr);
    }
}

void app::report_moved(const std::string& from, const std::string& to, std::uint64_t bytes,
                       std::chrono::steady_clock::time_point started) const {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    info(fmt::format("{} -> {}: {} bytes in {:.2f} s ({})", from, to, bytes, secs, human_rate(bytes, secs)));
}

int app::fail(const outcome& o, int status) {
    std::fflush(stdout);
    // SECURITY: terminal injection: messages can quote the server's replies.
    std::fprintf(stderr, "ferry: %s\n", proto::printable(o.message.empty() ? o.ec.message() : o.message).c_str());
    return status;
}

void app::make_session() {
    client::session_hooks h;
    h.trace = [this](std::string_view s) {
        if (verbose_) std::fprintf(stderr, "%s\n", proto::printable(s).c_str());
    };
    h.warn = [](std::string_view s) {
        std::fflush(stdout);
        std::fprintf(stderr, "ferry: warning: %s\n", proto::printable(s).c_str());
    };
    h.accept_untrusted = [this](const tls::peer_check& pc, const std::string& hp, std::string& why) {
        return accept_untrusted(pc, hp, why);
    };
    sess_ = std::make_unique<client::session>(io_.get_executor(), settings_, trust_, std::move(h));
}

bool app::accept_untrusted(const tls::peer_check& pc, const std::string& host_port, std::string& why) {
    const std::string path = client::known_servers::default_path();
    client::known_servers known;
    std::string error;
    known.load(path, error);
    switch (known.lookup(host_port, pc.fingerprint)) {
        case client::known_status::match:
            if (verbose_) std::fprintf(stderr, "--- certificate accepted earlier (%s)\n", path.c_str());
            return true;
        case client::known_status::mismatch:
            why = "WARNING: this is NOT the certificate you accepted for " + host_port + " before (" +
                  known.recorded(host_port) + " in " + path +
                  "). Someone may be intercepting the connection, or the server has a new certificate; if you know "
                  "it has, delete its line from that file.";
            return false;
        case client::known_status::unknown:
            break;
    }
    if (!interactive_) {
        why = "(at the interactive prompt ferry would show this fingerprint and offer to remember it)";
        return false;
    }
    std::fflush(stdout);
    std::fprintf(stderr,
                 "The server certificate of %s is not trusted: %s.\n"
                 "  subject:     %s\n  issuer:      %s\n  valid until: %s\n  fingerprint: %s\n"
                 "Compare the fingerprint with one obtained from the server's administrator.\n",
                 host_port.c_str(), pc.chain_ok ? "it does not name this host" : pc.chain_error.c_str(),
                 pc.subject.c_str(), pc.issuer.c_str(), pc.not_after.c_str(), pc.fingerprint.c_str());
    auto answer = prompt_line("Trust it? [y]es and remember / [o]nce / [N]o: ");
    std::string a = answer ? lower(*answer) : "";
    if (a == "y" || a == "yes") {
        if (!known.remember(path, host_port, pc.fingerprint, error))
            std::fprintf(stderr, "ferry: warning: cannot remember it: %s\n", error.c_str());
        else
            std::fprintf(stderr, "Remembered in %s.\n", path.c_str());
        return true;
    }
    if (a == "o" || a == "once") return true;
    why = "(not accepted at the prompt)";
    return false;
}

bool app::credentials(const client::ftp_url& u, std::string& user, std::string& password, std::string& error) {
    user = u.has_user ? u.user : opts_.user;
    std::optional<client::netrc_entry> netrc;
    if (!opts_.no_netrc && !u.has_password && opts_.password_file.empty()) {
        std::string path = opts_.netrc_file;
        if (path.empty())
            if (const char* h = std::getenv("HOME"); h && *h) path = std::string(h) + "/.netrc";
        std::ifstream in(path);
        if (in) {
            std::ostringstream ss;
            ss << in.rdbuf();
            netrc = client::netrc_find(ss.str(), u.host, user);
            struct stat st;
            if (netrc && netrc->has_password && ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
                std::fprintf(stderr, "ferry: warning: %s holds passwords but others may read it (chmod 600 %s)\n",
                             path.c_str(), path.c_str());
        } else if (!opts_.netrc_file.empty()) {
            error = opts_.netrc_file + ": cannot read the netrc file";
            return false;
        }
    }
    if (user.empty() && netrc && !netrc->login.empty()) user = netrc->login;
    if (user.empty() && interactive_) {
        const char* me = std::getenv("USER");
        std::string def = me ? me : "";
        auto l = prompt_line("Name (" + u.host + (def.empty() ? "" : ":" + def) + "): ");
        if (l) user = l->empty() ? def : *l;
    }
    if (user.empty()) user = "anonymous";
    if (u.has_password) {
        password = u.password;
    } else if (!opts_.password_file.empty()) {
        password = read_first_line(opts_.password_file, error);
        if (!error.empty()) return false;
    } else if (netrc && netrc->has_password && (netrc->login.empty() || netrc->login == user)) {
        password = netrc->password;
    } else if (user == "anonymous" || user == "ftp") {
        password = "ferry@";
    } else {
        auto p = prompt_hidden("Password for " + user + "@" + u.host + ": ");
        if (!p) {
            error = "no password for " + user + "@" + u.host +
                    ": give it in the URL (ftp://user:password@host/), in ~/.netrc, or with --password-file FILE "
                    "(there is no terminal to ask on)";
            return false;
        }
        password = *p;
    }
    return true;
}

int app::connect(const client::ftp_url& u, bool enter_directory) {
    if (sess_ && sess_->connected()) run_void(sess_->quit());
    make_session();
    // Connect (and verify the server) before asking for a password: it goes to the server only.
    outcome o = run(sess_->open(u.host, u.port, u.implicit_tls));
    if (!o) return fail(o, exit_connection);
    std::string user, password, error;
    if (!credentials(u, user, password, error)) {
        run_void(sess_->quit());
        return fail(outcome::fail(client::errc::login_failed, error), exit_connection);
    }
    if (o = run(sess_->login(user, password)); !o) {
        run_void(sess_->quit());
        return fail(o, exit_connection);
    }
    if (opts_.ccc) {
        if (o = run(sess_->clear_command_channel()); !o) {
            run_void(sess_->quit());
            return fail(o, exit_connection);
        }
    }
    if (opts_.ascii || u.type == 'A') run(sess_->set_ascii(true));
    if (interactive_) {
        info("Connected to " + u.host_port() + " as " + user + (sess_->tls_session() ? ", " + sess_->tls_description() : ", WITHOUT TLS") +
             (sess_->protection_private() ? ", data protected" : ", data in clear"));
    }
    if (enter_directory && !u.path.empty()) {
        if (o = run(sess_->cwd(u.path)); !o) return fail(o);
    }
    return exit_ok;
}

void app::disconnect() {
    if (sess_ && sess_->connected()) run_void(sess_->quit());
}

// ---------------------------------------------------------------------------------------------
// One-shot commands

int app::get(const std::string& url_text, const std::string& local, bool resume) {
    std::string error;
    auto u = client::parse_url(url_text, false, error);
    if (!u) return fail(outcome::fail(client::errc::protocol_error, error), exit_usage);
    if (u->names_directory) {
        std::fprintf(stderr, "ferry get: '%s' names a folder; give a file (ferry ls lists the folder)\n", url_text.c_str());
        return exit_usage;
    }
    progress_ = !opts_.no_progress && stdout_is_tty() && local != "-";
    if (int rc = connect(*u, false)) return rc;
    int rc = cmd_get(u->path, local, resume);
    disconnect();
    return rc;
}

int app::put(const std::string& local, const std::string& url_text, bool resume) {
    std::string error;
    auto u = client::parse_url(url_text, false, error);
    if (!u) return fail(outcome::fail(client::errc::protocol_error, error), exit_usage);
    std::string remote = u->path;
    if (u->names_directory) {
        if (local == "-") {
            std::fprintf(stderr, "ferry put: give the remote file name in the URL when uploading standard input\n");
            return exit_usage;
        }
        remote += base_name(local);
    }
    if (local != "-" && ::access(local.c_str(), R_OK) != 0) {
        std::fprintf(stderr, "ferry put: cannot read %s: %s\n", local.c_str(), std::strerror(errno));
        return exit_failed;
    }
    progress_ = !opts_.no_progress && stdout_is_tty();
    if (int rc = connect(*u, false)) return rc;
    int rc = cmd_put(local, remote, resume);
    disconnect();
    return rc;
}

int app::ls(const std::string& url_text, bool long_format, bool raw) {
    std::string error;
    auto u = client::parse_url(url_text, false, error);
    if (!u) return fail(outcome::fail(client::errc::protocol_error, error), exit_usage);
    if (int rc = connect(*u, false)) return rc;
    std::vector<std::string> args;
    if (long_format) args.push_back("-l");
    std::string path = u->path;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (!path.empty()) args.push_back(path);
    int rc = cmd_ls(args, raw);
    disconnect();
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Session mode: batch and interactive

int app::session_mode(const std::string& url_text) {
    std::istream* in = &std::cin;
    std::ifstream batch;
    if (!opts_.batch_file.empty()) {
        batch.open(opts_.batch_file);
        if (!batch) {
            std::fprintf(stderr, "ferry: %s: cannot read the batch file\n", opts_.batch_file.c_str());
            return exit_usage;
        }
        in = &batch;
    }
    interactive_ = opts_.batch_file.empty() && stdin_is_tty();
    progress_ = !opts_.no_progress && stdout_is_tty();
    int status = exit_ok;
    if (!url_text.empty()) {
        std::string error;
        auto u = client::parse_url(url_text, true, error);
        if (!u) return fail(outcome::fail(client::errc::protocol_error, error), exit_usage);
        int rc = connect(*u, true);
        if (rc && !interactive_) return rc;
        if (rc) status = rc;
    }
    std::optional<line_editor> editor;
    if (interactive_) editor.emplace();
    int line_no = 0;
    bool quit = false;
    while (!quit) {
        std::optional<std::string> line;
        if (interactive_) {
            line = editor->read("ferry> ");
        } else {
            std::string l;
            if (std::getline(*in, l)) line = l;
        }
        if (!line) break;
        ++line_no;
        std::string l = *line;
        while (!l.empty() && (l.back() == '\r' || std::isspace(static_cast<unsigned char>(l.back())))) l.pop_back();
        std::size_t first = l.find_first_not_of(" \t");
        if (first == std::string::npos || l[first] == '#') continue;
        if (!interactive_ && verbose_) std::fprintf(stderr, "ferry> %s\n", l.c_str());
        int rc = execute(l, quit);
        if (rc != exit_ok) {
            if (interactive_) continue;
            std::fprintf(stderr, "ferry: %s line %d failed: %s\n",
                         opts_.batch_file.empty() ? "standard input" : opts_.batch_file.c_str(), line_no, l.c_str());
            status = status ? status : rc;
            if (!opts_.keep_going) break;
        }
    }
    disconnect();
    if (interactive_) return exit_ok;
    return status;
}

int app::require_session() {
    if (sess_ && sess_->logged_in()) return exit_ok;
    std::fprintf(stderr, "ferry: not connected: use 'open URL' first\n");
    return exit_failed;
}

int app::execute(const std::string& line, bool& quit) {
    std::string error;
    auto words = split_words(line, error);
    if (!error.empty()) {
        std::fprintf(stderr, "ferry: %s\n", error.c_str());
        return exit_usage;
    }
    if (words.empty()) return exit_ok;
    const std::string cmd = lower(words[0]);
    std::vector<std::string> args(words.begin() + 1, words.end());
    auto usage = [&](const char* text) {
        std::fprintf(stderr, "usage: %s\n", text);
        return exit_usage;
    };

    if (cmd == "bye" || cmd == "quit" || cmd == "exit") {
        quit = true;
        return exit_ok;
    }
    if (cmd == "help" || cmd == "?") {
        help(args.empty() ? "" : lower(args[0]));
        return exit_ok;
    }
    if (cmd == "open") return cmd_open(args);
    if (cmd == "close" || cmd == "disconnect") {
        disconnect();
        return exit_ok;
    }
    if (cmd == "user") return cmd_user(args);
    if (cmd == "lcd") {
        std::string dir = args.empty() ? (std::getenv("HOME") ? std::getenv("HOME") : "/") : args[0];
        if (::chdir(dir.c_str()) != 0) {
            std::fprintf(stderr, "ferry: lcd %s: %s\n", dir.c_str(), std::strerror(errno));
            return exit_failed;
        }
        info("Local folder: " + fs::current_path().string());
        return exit_ok;
    }
    if (cmd == "lpwd") {
        std::printf("%s\n", fs::current_path().string().c_str());
        return exit_ok;
    }
    if (cmd == "locsite") {
        std::string rest = rest_of_line(line);
        if (rest.empty()) {
            std::fputs(config::describe_client_settings(sess_ ? sess_->settings() : settings_).c_str(), stdout);
            return exit_ok;
        }
        if (!config::apply_locsite(settings_, rest, error)) {
            std::fprintf(stderr, "ferry: %s\n", error.c_str());
            return exit_usage;
        }
        // Data connection settings apply from the next transfer; TLS and connection settings
        // from the next 'open'.
        if (sess_) sess_->settings() = settings_;
        return exit_ok;
    }
    if (cmd == "passive") {
        bool on = !settings_.fwfriendly;
        if (!args.empty()) on = lower(args[0]) == "on" || lower(args[0]) == "true";
        settings_.fwfriendly = on;
        if (sess_) sess_->settings().fwfriendly = on;
        info(std::string("Passive mode ") + (on ? "on (FWFRIENDLY TRUE)" : "off: active mode (NOFWFRIENDLY)"));
        return exit_ok;
    }
    if (cmd == "verbose") {
        verbose_ = args.empty() ? !verbose_ : (lower(args[0]) == "on");
        info(std::string("Verbose mode ") + (verbose_ ? "on" : "off"));
        return exit_ok;
    }
    if (cmd == "status") {
        std::string s = sess_ ? sess_->status_text() : "Not connected.\n";
        s += "Local folder: " + fs::current_path().string() + "\n";
        std::fputs(s.c_str(), stdout);
        return exit_ok;
    }
    if (cmd == "ascii" || cmd == "binary" || cmd == "bin" || cmd == "image") {
        bool a = cmd == "ascii";
        opts_.ascii = a;
        if (sess_) {
            if (auto o = run(sess_->set_ascii(a)); !o) return fail(o);
        }
        info(a ? "Transfer type ascii (TYPE A)" : "Transfer type binary (TYPE I)");
        return exit_ok;
    }
    if (cmd == "type") {
        if (args.empty()) {
            std::printf("%s\n", (sess_ && sess_->ascii()) || opts_.ascii ? "ascii" : "binary");
            return exit_ok;
        }
        std::string t = lower(args[0]);
        return execute(t == "a" || t == "ascii" ? "ascii" : "binary", quit);
    }

    // Everything below needs a session.
    if (int rc = require_session()) return rc;
    client::session& s = *sess_;

    if (cmd == "ls" || cmd == "nlist" || cmd == "mls") return cmd_ls(args, false);
    if (cmd == "dir") return cmd_ls(args, true);
    if (cmd == "pwd") {
        std::string p;
        if (auto o = run(s.pwd(p)); !o) return fail(o);
        std::printf("%s\n", p.c_str());
        return exit_ok;
    }
    if (cmd == "cd" || cmd == "cwd") {
        if (args.size() != 1) return usage("cd FOLDER");
        if (auto o = run(s.cwd(args[0])); !o) return fail(o);
        return exit_ok;
    }
    if (cmd == "cdup") {
        if (auto o = run(s.simple("CDUP")); !o) return fail(o);
        return exit_ok;
    }
    if (cmd == "get" || cmd == "recv" || cmd == "reget") {
        bool resume = cmd == "reget";
        std::vector<std::string> a;
        for (const auto& x : args) {
            if (x == "-c" || x == "--resume") resume = true;
            else a.push_back(x);
        }
        if (a.empty() || a.size() > 2) return usage("get [-c] REMOTE [LOCAL]");
        return cmd_get(a[0], a.size() > 1 ? a[1] : "", resume);
    }
    if (cmd == "put" || cmd == "send" || cmd == "reput") {
        bool resume = cmd == "reput";
        std::vector<std::string> a;
        for (const auto& x : args) {
            if (x == "-c" || x == "--resume") resume = true;
            else a.push_back(x);
        }
        if (a.empty() || a.size() > 2) return usage("put [-c] LOCAL [REMOTE]");
        return cmd_put(a[0], a.size() > 1 ? a[1] : base_name(a[0]), resume);
    }
    if (cmd == "mget") {
        if (args.empty()) return usage("mget PATTERN...");
        return cmd_mget(args);
    }
    if (cmd == "mput") {
        if (args.empty()) return usage("mput PATTERN...");
        return cmd_mput(args);
    }
    if (cmd == "mkdir" || cmd == "mkd") {
        if (args.size() != 1) return usage("mkdir FOLDER");
        return cmd_simple("MKD " + args[0]);
    }
    if (cmd == "rmdir" || cmd == "rmd") {
        if (args.size() != 1) return usage("rmdir FOLDER");
        return cmd_simple("RMD " + args[0]);
    }
    if (cmd == "delete" || cmd == "del" || cmd == "rm") {
        if (args.size() != 1) return usage("delete FILE");
        return cmd_simple("DELE " + args[0]);
    }
    if (cmd == "mdelete") {
        int rc = exit_ok;
        for (const auto& a : args)
            if (int r = cmd_simple("DELE " + a)) rc = r;
        return rc;
    }
    if (cmd == "rename" || cmd == "ren" || cmd == "mv") {
        if (args.size() != 2) return usage("rename FROM TO");
        if (auto o = run(s.rename(args[0], args[1])); !o) return fail(o);
        return exit_ok;
    }
    if (cmd == "size") {
        if (args.size() != 1) return usage("size FILE");
        std::uint64_t n;
        if (auto o = run(s.size(args[0], n)); !o) return fail(o);
        std::printf("%llu\n", static_cast<unsigned long long>(n));
        return exit_ok;
    }
    if (cmd == "prot" || cmd == "private" || cmd == "clear") {
        if (cmd == "prot" && args.empty()) {
            std::printf("%s\n", s.protection_private() ? "P (private: data connections encrypted)"
                                                        : "C (clear: data connections not encrypted)");
            return exit_ok;
        }
        std::string level = cmd == "private" ? "p" : cmd == "clear" ? "c" : lower(args[0]);
        if (level != "p" && level != "c" && level != "private" && level != "clear") return usage("prot C|P");
        bool priv = level[0] == 'p';
        if (auto o = run(s.set_protection(priv)); !o) return fail(o);
        info(priv ? "Data connections are protected (PROT P)" : "Data connections are in clear (PROT C)");
        return exit_ok;
    }
    if (cmd == "ccc") {
        if (auto o = run(s.clear_command_channel()); !o) return fail(o);
        info("The control connection is now in clear text (CCC); data protection is unchanged.");
        return exit_ok;
    }
    if (cmd == "site" || cmd == "quote" || cmd == "literal") {
        std::string rest = rest_of_line(line);
        if (rest.empty()) return usage(cmd == "site" ? "site ARGUMENTS" : "quote COMMAND [ARGUMENTS]");
        std::string text = cmd == "site" ? "SITE " + rest : rest;
        {
            std::string verb = lower(text.substr(0, text.find(' ')));
            if (verb == "auth" || verb == "ccc" || verb == "pbsz" || verb == "prot" || verb == "pasv" || verb == "epsv" ||
                verb == "port" || verb == "eprt" || verb == "retr" || verb == "stor" || verb == "list" ||
                verb == "mlsd" || verb == "nlst" || verb == "appe" || verb == "stou") {
                std::fprintf(stderr, "ferry: quote %s would desynchronise the session; use the ferry command (get, put, ls, prot, ccc, ...)\n",
                             verb.c_str());
                return exit_usage;
            }
        }
        proto::reply r;
        if (auto o = run(s.raw(text, r)); !o) return fail(o);
        for (std::size_t i = 0; i < r.lines.size(); ++i)
            std::printf("%d%c%s\n", r.code, i + 1 < r.lines.size() ? '-' : ' ', r.lines[i].c_str());
        std::fflush(stdout);
        return r.code >= 400 ? exit_failed : exit_ok;
    }
    std::fprintf(stderr, "ferry: unknown command '%s' (help lists the commands)\n", words[0].c_str());
    return exit_usage;
}

int app::cmd_open(const std::vector<std::string>& args) {
    if (args.empty() || args.size() > 2) {
        std::fprintf(stderr, "usage: open URL | open HOST [PORT]\n");
        return exit_usage;
    }
    std::string text = args[0];
    if (args.size() == 2) text += ":" + args[1];
    std::string error;
    auto u = client::parse_url(text, true, error);
    if (!u) {
        std::fprintf(stderr, "ferry: %s\n", error.c_str());
        return exit_usage;
    }
    return connect(*u, true);
}

int app::cmd_user(const std::vector<std::string>& args) {
    if (args.empty() || args.size() > 2) {
        std::fprintf(stderr, "usage: user NAME [PASSWORD]\n");
        return exit_usage;
    }
    if (!sess_ || !sess_->connected()) {
        std::fprintf(stderr, "ferry: not connected: use 'open URL' first\n");
        return exit_failed;
    }
    std::string password;
    if (args.size() == 2) {
        password = args[1];
    } else if (!opts_.password_file.empty()) {
        std::string error;
        password = read_first_line(opts_.password_file, error);
        if (!error.empty()) return fail(outcome::fail(client::errc::login_failed, error));
    } else {
        auto p = prompt_hidden("Password: ");
        if (!p) return fail(outcome::fail(client::errc::login_failed, "no password given and no terminal to ask on"));
        password = *p;
    }
    if (auto o = run(sess_->login(args[0], password)); !o) return fail(o);
    info("Logged in as " + args[0]);
    return exit_ok;
}

int app::cmd_simple(const std::string& line) {
    proto::reply r;
    if (auto o = run(sess_->simple(line, &r)); !o) return fail(o);
    if (interactive_ && !verbose_) info(std::to_string(r.code) + " " + (r.lines.empty() ? "" : r.lines.back()));
    return exit_ok;
}

int app::cmd_ls(const std::vector<std::string>& args, bool raw) {
    bool long_format = false;
    std::string path;
    for (const auto& a : args) {
        if (a == "-l") long_format = true;
        else if (a == "-1" || a == "-a") continue;
        else if (path.empty()) path = a;
        else {
            std::fprintf(stderr, "usage: ls [-l] [PATH]\n");
            return exit_usage;
        }
    }
    proto::listing listing;
    std::string text;
    if (auto o = run(sess_->list(path, listing, &text, raw)); !o) return fail(o);
    if (raw) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
        std::fflush(stdout);
        return exit_ok;
    }
    for (const auto& e : listing.entries) {
        if (e.self_or_parent) continue;
        std::string line = long_format ? long_line(e) : e.info.name;
        std::printf("%s\n", proto::printable(line).c_str());
    }
    for (const auto& u : listing.unparsed) std::printf("%s\n", proto::printable(u).c_str());
    std::fflush(stdout);
    return exit_ok;
}

int app::cmd_get(const std::string& remote, const std::string& local_arg, bool resume) {
    client::session& s = *sess_;
    std::string local = local_arg.empty() ? base_name(remote) : local_arg;
    if (local.empty() || local == "/" || local == "." || local == "..") {
        std::fprintf(stderr, "ferry: '%s' does not name a file to download\n", remote.c_str());
        return exit_usage;
    }
    std::error_code ec;
    if (local != "-" && fs::is_directory(local, ec)) local = (fs::path(local) / base_name(remote)).string();

    std::uint64_t total = 0;
    bool have_size = false;
    if (!s.ascii()) {
        // Not every server has SIZE; it only feeds the progress bar and resume checks.
        auto o = run(s.size(remote, total));
        have_size = bool(o);
    }
    auto started = std::chrono::steady_clock::now();
    progress_bar bar(base_name(remote), progress_);
    auto progress = [&bar](std::uint64_t d, std::uint64_t t) { bar.update(d, t); };

    if (local == "-") {
        if (resume) {
            std::fprintf(stderr, "ferry: cannot resume a download to standard output\n");
            return exit_usage;
        }
        client::fd_sink out(1);
        outcome o = run(s.retrieve(remote, out, 0, total, nullptr));
        if (!o) return fail(o);
        report_moved(remote, "standard output", out.written(), started);
        return exit_ok;
    }

    client::download_file file;
    std::uint64_t offset = 0;
    if (auto o = file.open(local, resume, offset); !o) return fail(o);
    if (resume && offset && have_size) {
        if (offset == total) {
            if (auto o = file.commit(); !o) return fail(o);
            info(local + " is already complete (" + std::to_string(total) + " bytes)");
            return exit_ok;
        }
        if (offset > total) {
            std::string note = file.abandon();
            return fail(outcome::fail(client::errc::local_file_error,
                                      "the local partial file (" + std::to_string(offset) + " bytes) is larger than " +
                                          remote + " (" + std::to_string(total) + " bytes): nothing to resume. " + note));
        }
    }
    if (resume && offset) info("Resuming " + remote + " at byte " + std::to_string(offset));
    outcome o = run(s.retrieve(remote, file, offset, total, progress));
    bar.finish();
    if (!o) {
        std::string note = file.abandon();
        if (!note.empty()) o.message += "; " + note;
        return fail(o);
    }
    if (auto c = file.commit(); !c) return fail(c);
    struct stat st {};
    ::stat(local.c_str(), &st);
    report_moved(remote, local, static_cast<std::uint64_t>(st.st_size) - offset, started);
    return exit_ok;
}

int app::cmd_put(const std::string& local, const std::string& remote, bool resume) {
    client::session& s = *sess_;
    std::uint64_t offset = 0;
    if (resume) {
        std::uint64_t n = 0;
        auto o = run(s.size(remote, n));
        if (o) offset = n;
        else if (o.reply_code / 100 != 5) return fail(o);  // 550: nothing there yet, upload all
    }
    client::upload_file file;
    if (auto o = file.open(local, offset); !o) return fail(o);
    if (resume && offset && offset == file.size()) {
        info(remote + " is already complete (" + std::to_string(offset) + " bytes)");
        return exit_ok;
    }
    if (resume && offset) info("Resuming the upload of " + local + " at byte " + std::to_string(offset));
    auto started = std::chrono::steady_clock::now();
    progress_bar bar(base_name(local), progress_ && local != "-");
    auto progress = [&bar](std::uint64_t d, std::uint64_t t) { bar.update(d, t); };
    outcome o = run(s.store(remote, file, resume && offset > 0, offset, progress));
    bar.finish();
    if (!o) return fail(o);
    if (local != "-") report_moved(local, remote, file.size() - offset, started);
    return exit_ok;
}

int app::cmd_mget(const std::vector<std::string>& patterns) {
    int rc = exit_ok;
    for (const auto& pat : patterns) {
        if (!has_glob(pat)) {
            if (int r = cmd_get(pat, "", false)) {
                rc = r;
                if (!interactive_ && !opts_.keep_going) return rc;
            }
            continue;
        }
        std::string dir = dir_name(pat), base = base_name(pat);
        proto::listing listing;
        if (auto o = run(sess_->list(dir, listing)); !o) return fail(o);
        std::vector<std::string> names;
        for (const auto& e : listing.entries) {
            if (e.self_or_parent || e.info.type == proto::file_info::kind::dir) continue;
            const std::string name = base_name(e.info.name);
            // SECURITY: a hostile server's names: '*' matches no dot-file (FNM_PERIOD, as a shell
            // does), and a name with control characters is never made into a local file.
            if (::fnmatch(base.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
            if (name.empty() || name == "." || name == ".." || proto::printable(name) != name) {
                std::fprintf(stderr, "ferry: mget: skipping the server's name '%s'\n", proto::printable(e.info.name).c_str());
                continue;
            }
            names.push_back(join_remote(dir, name));
        }
        if (names.empty()) {
            std::fprintf(stderr, "ferry: mget: no remote file matches %s\n", pat.c_str());
            rc = exit_failed;
            if (!interactive_ && !opts_.keep_going) return rc;
            continue;
        }
        for (const auto& n : names) {
            if (int r = cmd_get(n, "", false)) {
                rc = r;
                if (!interactive_ && !opts_.keep_going) return rc;
            }
        }
    }
    return rc;
}

int app::cmd_mput(const std::vector<std::string>& patterns) {
    int rc = exit_ok;
    for (const auto& pat : patterns) {
        glob_t g{};
        int r = ::glob(pat.c_str(), GLOB_TILDE, nullptr, &g);
        std::vector<std::string> files;
        if (r == 0)
            for (std::size_t i = 0; i < g.gl_pathc; ++i) {
                std::error_code ec;
                if (fs::is_regular_file(g.gl_pathv[i], ec)) files.emplace_back(g.gl_pathv[i]);
            }
        ::globfree(&g);
        if (files.empty()) {
            std::fprintf(stderr, "ferry: mput: no local file matches %s\n", pat.c_str());
            rc = exit_failed;
            if (!interactive_ && !opts_.keep_going) return rc;
            continue;
        }
        for (const auto& f : files) {
            if (int x = cmd_put(f, base_name(f), false)) {
                rc = x;
                if (!interactive_ && !opts_.keep_going) return rc;
            }
        }
    }
    return rc;
}

void app::help(const std::string& topic) const {
    static const std::pair<const char*, const char*> cmds[] = {
        {"open URL | HOST [PORT]", "connect and log in (ftp:// explicit TLS, ftps:// implicit TLS)"},
        {"user NAME [PASSWORD]", "log in (again) on the open connection"},
        {"ls [-l] [PATH]", "list a folder: names, or -l type/size/time/name (MLSD, else parsed LIST)"},
        {"dir [PATH]", "the server's own LIST output"},
        {"cd FOLDER / cdup / pwd", "change or show the remote folder"},
        {"lcd [FOLDER] / lpwd", "change or show the local folder"},
        {"get [-c] REMOTE [LOCAL]", "download (-c resumes a partial download); LOCAL '-' is standard output"},
        {"put [-c] LOCAL [REMOTE]", "upload (-c resumes: appends what the server lacks)"},
        {"mget PATTERN...", "download the remote files matching the patterns (* ? [])"},
        {"mput PATTERN...", "upload the local files matching the patterns"},
        {"mkdir / rmdir FOLDER", "create / remove a remote folder"},
        {"delete FILE", "remove a remote file"},
        {"rename FROM TO", "rename a remote file or folder"},
        {"size FILE", "size of a remote file"},
        {"ascii / binary", "transfer type A (line ends converted) or I (bytes as they are; default)"},
        {"passive [on|off]", "toggle passive (FWFRIENDLY) and active (NOFWFRIENDLY) data connections"},
        {"prot [C|P]", "data protection: C clear, P private (TLS); no argument shows it"},
        {"ccc", "clear the control connection after login (needs TLSRFCLEVEL RFC4217 or CCCNONOTIFY)"},
        {"site ARGS", "send SITE ARGS"},
        {"quote COMMAND", "send any command and show the reply"},
        {"locsite [SETTINGS]", "show or change client settings: locsite EPSV4 NOFWFRIENDLY TLSRFCLEVEL=RFC4217"},
        {"status", "connection, TLS, protection and mode"},
        {"verbose [on|off]", "show the control dialogue"},
        {"close", "disconnect"},
        {"bye / quit", "disconnect and leave"},
    };
    if (!topic.empty()) {
        for (const auto& [syntax, what] : cmds)
            if (lower(std::string(syntax)).find(topic) == 0 || lower(std::string(syntax)).find("/ " + topic) != std::string::npos) {
                std::printf("%-26s %s\n", syntax, what);
                return;
            }
        if (topic == "locsite") {
            std::fputs(config::describe(config::side::client).c_str(), stdout);
            return;
        }
    }
    for (const auto& [syntax, what] : cmds) std::printf("%-26s %s\n", syntax, what);
    std::printf("\n'help locsite' lists the settings.\n");
}

// ---------------------------------------------------------------------------------------------
// probe: the seed's scenario table, automated

int app::probe(const std::string& url_text) {
    std::string error;
    auto u = client::parse_url(url_text, true, error);
    if (!u) return fail(outcome::fail(client::errc::protocol_error, error), exit_usage);
    config::client_settings base = settings_;
    if (opts_.timeout <= 0) base.connect_timeout = base.reply_timeout = base.data_timeout = 5;
    std::string user, password;
    if (!credentials(*u, user, password, error)) return fail(outcome::fail(client::errc::login_failed, error), exit_connection);
    std::string path = u->path;
    while (path.size() > 1 && path.back() == '/') path.pop_back();

    std::printf("Probing %s (a listing of '%s' per method, %u s timeouts)\n", u->display().c_str(),
                path.empty() ? "." : path.c_str(), base.data_timeout);
    std::fflush(stdout);

    struct result {
        std::string name;
        bool ok = false;
        std::string detail;
    };
    std::vector<result> results;
    std::string control_info, pasv_address, peer_address;

    auto attempt = [&](const std::string& name, client::data_method m, bool with_ccc) -> result {
        result r{name, false, ""};
        config::client_settings s = base;
        if (with_ccc && s.tls_rfc == config::tls_rfc_level::draft) s.tls_rfc = config::tls_rfc_level::rfc4217;
        settings_ = s;
        make_session();
        sess_->force_method(m);
        outcome o = run(sess_->open(u->host, u->port, u->implicit_tls));
        if (o) o = run(sess_->login(user, password));
        if (!o) {
            r.detail = "no session: " + o.message;
            run_void(sess_->quit());
            return r;
        }
        if (control_info.empty())
            control_info = sess_->tls_session() ? sess_->tls_description() + (u->implicit_tls ? ", implicit TLS" : ", AUTH TLS")
                                                : "no TLS";
        if (with_ccc) {
            if (o = run(sess_->clear_command_channel()); !o) {
                r.detail = o.message;
                run_void(sess_->quit());
                return r;
            }
        }
        proto::listing listing;
        o = run(sess_->list(path, listing));
        if (m == client::data_method::pasv_as_sent || m == client::data_method::pasv)
            if (!sess_->last_pasv_address().empty()) pasv_address = sess_->last_pasv_address();
        r.ok = bool(o);
        r.detail = o ? sess_->last_data_note() + (sess_->protection_private()
                                                      ? (sess_->last_data_resumed() ? ", TLS session resumed" : ", TLS not resumed")
                                                      : ", data in clear")
                     : o.message;
        run_void(sess_->quit());
        return r;
    };

    using client::data_method;
    const std::pair<const char*, data_method> plain[] = {
        {"EPSV", data_method::epsv},
        {"PASV", data_method::pasv_as_sent},
        {"PASV + PASSIVEIGNOREADDR", data_method::pasv_ignore_addr},
        {"EPRT (active)", data_method::eprt},
        {"PORT (active)", data_method::port},
    };
    for (const auto& [name, m] : plain) {
        results.push_back(attempt(name, m, false));
        const auto& r = results.back();
        std::printf("  %-28s %-6s %s\n", r.name.c_str(), r.ok ? "works" : "FAILS", r.detail.c_str());
        std::fflush(stdout);
        if (results.size() == 1 && r.detail.rfind("no session", 0) == 0) {
            settings_ = base;
            return fail(outcome::fail(client::errc::connect_failed, r.detail.substr(12)), exit_connection);
        }
    }
    for (const auto& [name, m] : {std::pair<const char*, data_method>{"CCC, then EPSV", data_method::epsv},
                                  {"CCC, then PASV", data_method::pasv}}) {
        results.push_back(attempt(name, m, true));
        const auto& r = results.back();
        std::printf("  %-28s %-6s %s\n", r.name.c_str(), r.ok ? "works" : "FAILS", r.detail.c_str());
        std::fflush(stdout);
    }
    settings_ = base;

    auto works = [&](std::size_t i) { return results[i].ok; };
    std::printf("\nControl connection: %s\n", control_info.c_str());
    if (!pasv_address.empty()) {
        std::printf("PASV replies name %s", pasv_address.c_str());
        std::printf("%s\n", works(1) ? "" : " (the data connection to it fails: the server may be behind NAT)");
    }
    std::printf("\nRecommended settings:\n");
    int rc = exit_ok;
    if (works(0)) {
        std::printf("  FWFRIENDLY TRUE\n  EPSV4 TRUE                      (ferry --passive --epsv)\n");
    } else if (works(1)) {
        std::printf("  FWFRIENDLY TRUE\n  EPSV4 FALSE                     (ferry --passive)\n");
    } else if (works(2)) {
        std::printf("  FWFRIENDLY TRUE\n  PASSIVEIGNOREADDR TRUE          (ferry --passive --ignore-pasv-addr)\n");
    } else if (works(3) || works(4)) {
        std::printf("  FWFRIENDLY FALSE                (ferry --active)%s\n", works(3) ? "\n  EPSV4 TRUE" : "");
    } else if (works(5) || works(6)) {
        std::printf("  TLSRFCLEVEL RFC4217 and the ccc subcommand after login   (ferry --ccc%s)\n"
                    "  (a firewall reads the data ports in the clear control connection; data stays encrypted)\n",
                    works(5) ? " --epsv" : "");
        if (works(5)) std::printf("  EPSV4 TRUE\n");
    } else {
        std::printf("  none: no method opened a data connection. The firewall blocks data connections in both\n"
                    "  directions; ask its administrator to permit the server's passive port range\n"
                    "  (PASSIVEDATAPORTS), or to allow CCC on the server.\n");
        rc = exit_failed;
    }
    return rc;
}

}  // namespace ferry::cli
