#include "client/shell.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "client/data_io.hpp"
#include "client/listing_format.hpp"
#include "client/segmented_get.hpp"
#include "tls/digest.hpp"
#include "client/shell_words.hpp"
#include "config/schema.hpp"
#include "proto/printable.hpp"

namespace fs = std::filesystem;

namespace ferry::client {

namespace {

int usage(const char* text) {
    std::fprintf(stderr, "usage: %s\n", text);
    return exit_usage;
}

// get/put's words: -c or --resume anywhere, the rest the file names.
std::vector<std::string> without_resume_flag(const std::vector<std::string>& args, bool& resume) {
    std::vector<std::string> names;
    for (const auto& x : args) {
        if (x == "-c" || x == "--resume") resume = true;
        else names.push_back(x);
    }
    return names;
}

}  // namespace

bool parse_segments(const std::string& text, unsigned& out) {
    unsigned long n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || p != text.data() + text.size() || n < 1 || n > max_segments) return false;
    out = static_cast<unsigned>(n);
    return true;
}

std::string read_password_file(const std::string& path, std::string& error) {
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

shell::shell() : commands_(make_commands()) {}

shell::~shell() {
    if (sess_ && sess_->connected()) run_void(sess_->quit());
}

void shell::run_void(asio::awaitable<void> op) {
    std::exception_ptr ep;
    asio::co_spawn(io_, std::move(op), [&](std::exception_ptr e) { ep = e; });
    io_.restart();
    io_.run();
    if (ep) std::rethrow_exception(ep);
}

void shell::info(const std::string& text) const {
    if (interactive_) {
        std::fputs((text + "\n").c_str(), stdout);
        std::fflush(stdout);
    } else if (verbose_) {
        std::fputs((text + "\n").c_str(), stderr);
    }
}

void shell::report_moved(const std::string& from, const std::string& to, std::uint64_t bytes,
                         std::chrono::steady_clock::time_point started) const {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    char figures[64];
    std::snprintf(figures, sizeof figures, "%llu bytes in %.2f s", static_cast<unsigned long long>(bytes), secs);
    info(from + " -> " + to + ": " + figures + " (" + human_rate(bytes, secs) + ")");
}

int shell::fail(const outcome& o, int status) {
    std::fflush(stdout);
    // SECURITY: terminal injection: messages can quote the server's replies.
    std::fprintf(stderr, "ferry: %s\n", proto::printable(o.message.empty() ? o.ec.message() : o.message).c_str());
    return status;
}

void shell::disconnect() {
    if (sess_ && sess_->connected()) run_void(sess_->quit());
}

int shell::require_session() {
    if (sess_ && sess_->logged_in()) return exit_ok;
    std::fprintf(stderr, "ferry: not connected: use 'open URL' first\n");
    return exit_failed;
}

int shell::execute(const std::string& line, bool& quit) {
    std::string error;
    auto words = split_words(line, error);
    if (!words) {
        std::fprintf(stderr, "ferry: %s\n", error.c_str());
        return exit_usage;
    }
    if (words->empty()) return exit_ok;
    command_call call{lower(words->front()), {words->begin() + 1, words->end()}, rest_of_line(line)};
    const command* c = find_command(commands_, call.word);
    // Without a session an unknown word gets "not connected", as it always has: only the
    // commands that work without one are known before login.
    if (!c || c->needs_session)
        if (int rc = require_session()) return rc;
    if (!c) {
        std::fprintf(stderr, "ferry: unknown command '%s' (help lists the commands)\n", words->front().c_str());
        return exit_usage;
    }
    quit_ = false;
    int rc = c->run(call);
    if (quit_) quit = true;
    return rc;
}

// The table: help lists it in this order. Handlers of needs_session commands may use *sess_.
std::vector<command> shell::make_commands() {
    return {
        {"open", {}, "open URL | HOST [PORT]", "connect and log in (ftp:// explicit TLS, ftps:// implicit TLS)", false,
         [this](const command_call& c) { return cmd_open(c.args); }},
        {"user", {}, "user NAME [PASSWORD]", "log in (again) on the open connection", false,
         [this](const command_call& c) { return cmd_user(c.args); }},
        {"ls", {"nlist", "mls"}, "ls [-l] [PATH]",
         "list a folder: names, or -l type/size/time/name (MLSD, else parsed LIST)", true,
         [this](const command_call& c) { return cmd_ls(c.args, false); }},
        {"dir", {}, "dir [PATH]", "the server's own LIST output", true,
         [this](const command_call& c) { return cmd_ls(c.args, true); }},
        {"cd", {"cwd"}, "cd FOLDER", "change the remote folder", true,
         [this](const command_call& c) {
             if (c.args.size() != 1) return usage("cd FOLDER");
             if (auto o = run(sess_->cwd(c.args[0])); !o) return fail(o);
             return exit_ok;
         }},
        {"cdup", {}, "cdup", "change to the parent of the remote folder", true,
         [this](const command_call&) {
             if (auto o = run(sess_->simple("CDUP")); !o) return fail(o);
             return exit_ok;
         }},
        {"pwd", {}, "pwd", "show the remote folder", true,
         [this](const command_call&) {
             std::string p;
             if (auto o = run(sess_->pwd(p)); !o) return fail(o);
             std::printf("%s\n", p.c_str());
             return exit_ok;
         }},
        {"lcd", {}, "lcd [FOLDER]", "change the local folder (default: home)", false,
         [this](const command_call& c) {
             std::string dir = c.args.empty() ? (std::getenv("HOME") ? std::getenv("HOME") : "/") : c.args[0];
             if (::chdir(dir.c_str()) != 0) {
                 std::fprintf(stderr, "ferry: lcd %s: %s\n", dir.c_str(), std::strerror(errno));
                 return exit_failed;
             }
             info("Local folder: " + fs::current_path().string());
             return exit_ok;
         }},
        {"lpwd", {}, "lpwd", "show the local folder", false,
         [](const command_call&) {
             std::printf("%s\n", fs::current_path().string().c_str());
             return exit_ok;
         }},
        {"get", {"recv"}, "get [-c] [--segments N] [--verify] REMOTE [LOCAL]",
         "download (-c resumes a partial download; --segments N fetches N ranges at once over N sessions where "
         "the server has RANG; --verify compares the server's SHA-256 (HASH) before keeping the file); LOCAL '-' "
         "is standard output", true,
         [this](const command_call& c) { return cmd_transfer(c, true, false); }},
        {"reget", {}, "reget REMOTE [LOCAL]", "resume a partial download (get -c)", true,
         [this](const command_call& c) { return cmd_transfer(c, true, true); }},
        {"put", {"send"}, "put [-c] LOCAL [REMOTE]", "upload (-c resumes: appends what the server lacks)", true,
         [this](const command_call& c) { return cmd_transfer(c, false, false); }},
        {"reput", {}, "reput LOCAL [REMOTE]", "resume an upload (put -c)", true,
         [this](const command_call& c) { return cmd_transfer(c, false, true); }},
        {"mget", {}, "mget PATTERN...", "download the remote files matching the patterns (* ? [])", true,
         [this](const command_call& c) { return c.args.empty() ? usage("mget PATTERN...") : cmd_mget(c.args); }},
        {"mput", {}, "mput PATTERN...", "upload the local files matching the patterns", true,
         [this](const command_call& c) { return c.args.empty() ? usage("mput PATTERN...") : cmd_mput(c.args); }},
        {"mirror", {}, "mirror [-R] [--delete] [-n] [--verify] [-c] [--exclude G] [--include G] [-P N] FROM TO",
         "make TO a copy of the folder FROM: REMOTEDIR LOCALDIR, or with -R LOCALDIR REMOTEDIR", true,
         [this](const command_call& c) {
             std::string error;
             auto r = parse_mirror_words(c.args, error);
             if (!r) {
                 std::fprintf(stderr, "ferry: mirror: %s\n", error.c_str());
                 return usage("mirror [-R] [--delete] [--dry-run] [--verify] [--checksum] [--exclude GLOB] [--include GLOB] [-P N] FROM TO");
             }
             return cmd_mirror(*r);
         }},
        {"mkdir", {"mkd"}, "mkdir FOLDER", "create a remote folder", true,
         [this](const command_call& c) { return c.args.size() != 1 ? usage("mkdir FOLDER") : cmd_simple("MKD " + c.args[0]); }},
        {"rmdir", {"rmd"}, "rmdir FOLDER", "remove a remote folder", true,
         [this](const command_call& c) { return c.args.size() != 1 ? usage("rmdir FOLDER") : cmd_simple("RMD " + c.args[0]); }},
        {"delete", {"del", "rm"}, "delete FILE", "remove a remote file", true,
         [this](const command_call& c) { return c.args.size() != 1 ? usage("delete FILE") : cmd_simple("DELE " + c.args[0]); }},
        {"mdelete", {}, "mdelete FILE...", "remove remote files (no patterns); goes on after a failure", true,
         [this](const command_call& c) {
             int rc = exit_ok;
             for (const auto& a : c.args)
                 if (int r = cmd_simple("DELE " + a)) rc = r;
             return rc;
         }},
        {"rename", {"ren", "mv"}, "rename FROM TO", "rename a remote file or folder", true,
         [this](const command_call& c) {
             if (c.args.size() != 2) return usage("rename FROM TO");
             if (auto o = run(sess_->rename(c.args[0], c.args[1])); !o) return fail(o);
             return exit_ok;
         }},
        {"size", {}, "size FILE", "size of a remote file", true,
         [this](const command_call& c) {
             if (c.args.size() != 1) return usage("size FILE");
             std::uint64_t n;
             if (auto o = run(sess_->size(c.args[0], n)); !o) return fail(o);
             std::printf("%llu\n", static_cast<unsigned long long>(n));
             return exit_ok;
         }},
        {"ascii", {}, "ascii", "transfer type A (line ends converted)", false,
         [this](const command_call&) { return cmd_ascii(true); }},
        {"binary", {"bin", "image"}, "binary", "transfer type I (bytes as they are; default)", false,
         [this](const command_call&) { return cmd_ascii(false); }},
        {"type", {}, "type [A|I]", "show or set the transfer type (A ascii, else binary)", false,
         [this](const command_call& c) {
             if (c.args.empty()) {
                 std::printf("%s\n", (sess_ && sess_->ascii()) || ascii_ ? "ascii" : "binary");
                 return exit_ok;
             }
             std::string t = lower(c.args[0]);
             return cmd_ascii(t == "a" || t == "ascii");
         }},
        {"passive", {}, "passive [on|off]", "toggle passive (FWFRIENDLY) and active (NOFWFRIENDLY) data connections",
         false,
         [this](const command_call& c) {
             bool on = !settings_.fwfriendly;
             if (!c.args.empty()) on = lower(c.args[0]) == "on" || lower(c.args[0]) == "true";
             settings_.fwfriendly = on;
             if (sess_) sess_->settings().fwfriendly = on;
             info(std::string("Passive mode ") + (on ? "on (FWFRIENDLY TRUE)" : "off: active mode (NOFWFRIENDLY)"));
             return exit_ok;
         }},
        {"prot", {}, "prot [C|P]", "data protection: C clear, P private (TLS); no argument shows it", true,
         [this](const command_call& c) { return cmd_prot(c); }},
        {"private", {}, "private", "data protection P (prot P)", true, [this](const command_call& c) { return cmd_prot(c); }},
        {"clear", {}, "clear", "data protection C (prot C)", true, [this](const command_call& c) { return cmd_prot(c); }},
        {"ccc", {}, "ccc", "clear the control connection after login (needs TLSRFCLEVEL RFC4217 or CCCNONOTIFY)", true,
         [this](const command_call&) {
             if (auto o = run(sess_->clear_command_channel()); !o) return fail(o);
             info("The control connection is now in clear text (CCC); data protection is unchanged.");
             return exit_ok;
         }},
        {"site", {}, "site ARGS", "send SITE ARGS", true, [this](const command_call& c) { return cmd_raw(c); }},
        {"quote", {"literal"}, "quote COMMAND", "send any command and show the reply", true,
         [this](const command_call& c) { return cmd_raw(c); }},
        {"locsite", {}, "locsite [SETTINGS]",
         "show or change client settings: locsite EPSV4 NOFWFRIENDLY TLSRFCLEVEL=RFC4217", false,
         [this](const command_call& c) { return cmd_locsite(c.rest); }},
        {"status", {}, "status", "connection, TLS, protection and mode", false,
         [this](const command_call&) {
             std::string s = sess_ ? sess_->status_text() : "Not connected.\n";
             s += "Local folder: " + fs::current_path().string() + "\n";
             std::fputs(s.c_str(), stdout);
             return exit_ok;
         }},
        {"verbose", {}, "verbose [on|off]", "show the control dialogue", false,
         [this](const command_call& c) {
             verbose_ = c.args.empty() ? !verbose_ : (lower(c.args[0]) == "on");
             info(std::string("Verbose mode ") + (verbose_ ? "on" : "off"));
             return exit_ok;
         }},
        {"help", {"?"}, "help [COMMAND]", "list the commands, or show one", false,
         [this](const command_call& c) {
             help(c.args.empty() ? "" : lower(c.args[0]));
             return exit_ok;
         }},
        {"close", {"disconnect"}, "close", "close the connection", false,
         [this](const command_call&) {
             disconnect();
             return exit_ok;
         }},
        {"bye", {"quit", "exit"}, "bye", "disconnect and leave", false,
         [this](const command_call&) {
             quit_ = true;
             return exit_ok;
         }},
    };
}

void shell::help(const std::string& topic) const {
    if (const command* c = find_help_topic(commands_, topic)) {
        std::fputs(help_line(*c).c_str(), stdout);
        if (c->name == "locsite") std::fputs(("\n" + config::describe(config::side::client)).c_str(), stdout);
        return;
    }
    std::fputs(format_help(commands_).c_str(), stdout);
    std::printf("\n'help locsite' lists the settings.\n");
}

int shell::cmd_open(const std::vector<std::string>& args) {
    if (args.empty() || args.size() > 2) {
        std::fprintf(stderr, "usage: open URL | open HOST [PORT]\n");
        return exit_usage;
    }
    std::string text = args[0];
    if (args.size() == 2) text += ":" + args[1];
    std::string error;
    auto u = parse_url(text, true, error);
    if (!u) {
        std::fprintf(stderr, "ferry: %s\n", error.c_str());
        return exit_usage;
    }
    return connect(*u, true);
}

int shell::cmd_user(const std::vector<std::string>& args) {
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
    } else if (!password_file_.empty()) {
        std::string error;
        password = read_password_file(password_file_, error);
        if (!error.empty()) return fail(outcome::fail(errc::login_failed, error));
    } else {
        auto p = ask_password("Password: ");
        if (!p) return fail(outcome::fail(errc::login_failed, "no password given and no terminal to ask on"));
        password = *p;
    }
    if (auto o = run(sess_->login(args[0], password)); !o) return fail(o);
    info("Logged in as " + args[0]);
    return exit_ok;
}

int shell::cmd_simple(const std::string& line) {
    proto::reply r;
    if (auto o = run(sess_->simple(line, &r)); !o) return fail(o);
    if (interactive_ && !verbose_) info(std::to_string(r.code) + " " + (r.lines.empty() ? "" : r.lines.back()));
    return exit_ok;
}

int shell::cmd_ascii(bool on) {
    ascii_ = on;
    if (sess_) {
        if (auto o = run(sess_->set_ascii(on)); !o) return fail(o);
    }
    info(on ? "Transfer type ascii (TYPE A)" : "Transfer type binary (TYPE I)");
    return exit_ok;
}

int shell::cmd_locsite(const std::string& rest) {
    if (rest.empty()) {
        std::fputs(config::describe_client_settings(sess_ ? sess_->settings() : settings_).c_str(), stdout);
        return exit_ok;
    }
    std::string error;
    if (!config::apply_locsite(settings_, rest, error)) {
        std::fprintf(stderr, "ferry: %s\n", error.c_str());
        return exit_usage;
    }
    // Data connection settings apply from the next transfer; TLS and connection settings
    // from the next 'open'.
    if (sess_) sess_->settings() = settings_;
    return exit_ok;
}

int shell::cmd_prot(const command_call& c) {
    if (c.word == "prot" && c.args.empty()) {
        std::printf("%s\n", sess_->protection_private() ? "P (private: data connections encrypted)"
                                                         : "C (clear: data connections not encrypted)");
        return exit_ok;
    }
    std::string level = c.word == "private" ? "p" : c.word == "clear" ? "c" : lower(c.args[0]);
    if (level != "p" && level != "c" && level != "private" && level != "clear") return usage("prot C|P");
    bool priv = level[0] == 'p';
    if (auto o = run(sess_->set_protection(priv)); !o) return fail(o);
    info(priv ? "Data connections are protected (PROT P)" : "Data connections are in clear (PROT C)");
    return exit_ok;
}

int shell::cmd_raw(const command_call& c) {
    const bool site = c.word == "site";
    if (c.rest.empty()) return usage(site ? "site ARGUMENTS" : "quote COMMAND [ARGUMENTS]");
    std::string text = site ? "SITE " + c.rest : c.rest;
    if (std::string verb = desynchronising_verb(text); !verb.empty()) {
        std::fprintf(stderr,
                     "ferry: quote %s would desynchronise the session; use the ferry command (get, put, ls, prot, ccc, ...)\n",
                     verb.c_str());
        return exit_usage;
    }
    proto::reply r;
    if (auto o = run(sess_->raw(text, r)); !o) return fail(o);
    for (std::size_t i = 0; i < r.lines.size(); ++i)
        std::printf("%d%c%s\n", r.code, i + 1 < r.lines.size() ? '-' : ' ', r.lines[i].c_str());
    std::fflush(stdout);
    return r.code >= 400 ? exit_failed : exit_ok;
}

int shell::cmd_transfer(const command_call& c, bool download, bool resume) {
    auto names = without_resume_flag(c.args, resume);
    unsigned segments = 1;
    bool verify = false;
    constexpr const char* get_usage = "get [-c] [--segments N] [--verify] REMOTE [LOCAL]";
    while (download && !names.empty() && (names[0] == "--segments" || names[0] == "--verify")) {
        if (names[0] == "--verify") {
            verify = true;
            names.erase(names.begin());
            continue;
        }
        if (names.size() < 2 || !parse_segments(names[1], segments)) return usage(get_usage);
        names.erase(names.begin(), names.begin() + 2);
    }
    if (names.empty() || names.size() > 2) return usage(download ? get_usage : "put [-c] LOCAL [REMOTE]");
    if (download) return cmd_get(names[0], names.size() > 1 ? names[1] : "", resume, segments, verify);
    return cmd_put(names[0], names.size() > 1 ? names[1] : base_name(names[0]), resume);
}

int shell::cmd_ls(const std::vector<std::string>& args, bool raw) {
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

int shell::cmd_get(const std::string& remote, const std::string& local_arg, bool resume, unsigned segments,
                   bool verify) {
    session& s = *sess_;
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
    auto bar = show_progress(base_name(remote), progress_);
    auto progress = [&bar](std::uint64_t d, std::uint64_t t) { bar->update(d, t); };

    if (segments > 1 && local != "-" && !resume) {
        if (s.ascii() || !have_size || !s.has_feature("RANG")) {
            info("One stream: --segments needs TYPE I, SIZE and RANG (draft-bryan-ftp-range), which " + s.host() +
                 " does not offer");
        } else if (std::optional<int> rc = get_segmented(remote, local, total, segments, started, *bar, verify)) {
            return *rc;
        }
    }
    if (local == "-") {
        if (verify) {
            std::fprintf(stderr, "ferry: --verify checks a local file before keeping it, not standard output\n");
            return exit_usage;
        }
        if (resume) {
            std::fprintf(stderr, "ferry: cannot resume a download to standard output\n");
            return exit_usage;
        }
        fd_sink out(1);
        outcome o = run(s.retrieve(remote, out, 0, total, nullptr));
        if (!o) return fail(o);
        report_moved(remote, "standard output", out.written(), started);
        return exit_ok;
    }

    download_file file;
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
            return fail(outcome::fail(errc::local_file_error,
                                      "the local partial file (" + std::to_string(offset) + " bytes) is larger than " +
                                          remote + " (" + std::to_string(total) + " bytes): nothing to resume. " + note));
        }
    }
    if (resume && offset) info("Resuming " + remote + " at byte " + std::to_string(offset));
    outcome o = run(s.retrieve(remote, file, offset, total, progress));
    if (!o && worth_another_session(o, s) && run(replace_session())) {
        // s is gone; the new session continues after what the first one wrote.
        info("The server refused the data connection; the download goes on in a new session");
        o = run(sess_->retrieve(remote, file, offset + file.written(), total, progress));
    }
    bar->finish();
    if (!o) {
        std::string note = file.abandon();
        if (!note.empty()) o.message += "; " + note;
        return fail(o);
    }
    if (verify) {
        struct stat part {};
        ::stat(file.part_path().c_str(), &part);
        if (auto v = run(verify_download(*sess_, remote, file.part_path(), static_cast<std::uint64_t>(part.st_size))); !v) {
            file.discard();
            return fail(v);
        }
    }
    if (auto c = file.commit(); !c) return fail(c);
    struct stat st {};
    ::stat(local.c_str(), &st);
    report_moved(remote, local, static_cast<std::uint64_t>(st.st_size) - offset, started);
    return exit_ok;
}

std::optional<int> shell::get_segmented(const std::string& remote, const std::string& local, std::uint64_t size,
                                        unsigned segments, std::chrono::steady_clock::time_point started,
                                        progress_display& bar, bool verify) {
    // Each range needs a session of its own: a file smaller than a range each gets fewer. They
    // log in at once: one after the other, a long link's round trips would add up.
    const std::size_t want = split_ranges(size, segments).size();
    std::vector<std::unique_ptr<session>> extra = run(open_extra_sessions(want - 1));
    std::vector<session*> sessions{sess_.get()};
    for (auto& x : extra) sessions.push_back(x.get());
    auto progress = [&bar](std::uint64_t d, std::uint64_t t) { bar.update(d, t); };
    bool range_ignored = false;
    file_check check;
    if (verify)
        check = [this, remote, size](const std::string& path) { return verify_download(*sess_, remote, path, size); };
    outcome o = run(segmented_get(sessions, remote, local, size, progress, range_ignored, check));
    if (o || !range_ignored) bar.finish();
    for (auto& x : extra) run_void(x->quit());
    if (!o && range_ignored && sess_->logged_in()) {
        std::fprintf(stderr, "ferry: %s did not send the byte ranges it was asked for (RANG); fetching %s as one stream\n",
                     sess_->host().c_str(), proto::printable(remote).c_str());
        return std::nullopt;
    }
    if (!o) return fail(o);
    report_moved(remote, local + " (" + std::to_string(sessions.size()) + " segments)", size, started);
    return exit_ok;
}

asio::awaitable<outcome> shell::verify_download(session& s, const std::string& remote, const std::string& path,
                                               std::uint64_t size) {
    if (!s.has_feature("HASH")) {
        info("--verify: " + s.host() + " has no HASH; the download is not verified");
        co_return outcome::ok();
    }
    std::string note;
    // SHA-256 whatever the server's default: OPTS HASH once, then HASH.
    proto::reply rep;
    if (auto o = co_await s.raw("OPTS HASH SHA-256", rep); !o) co_return o;
    const std::string remote_hex = co_await mirror_remote_hash(s, remote, size, note);
    if (remote_hex.empty()) co_return outcome::fail(errc::transfer_failed, "--verify: " + note);
    std::error_code ec;
    std::string local_hex;
    if (int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW); fd >= 0) {
        local_hex = tls::digest_file(fd, tls::digest_algorithm::sha256, 0, size, ec);
        ::close(fd);
    } else {
        ec = {errno, std::generic_category()};
    }
    if (ec) co_return outcome::fail(errc::local_file_error, "--verify: cannot read " + path + ": " + ec.message());
    if (local_hex != remote_hex)
        co_return outcome::fail(errc::transfer_failed, "--verify: the SHA-256 of the download differs from the server's (" +
                                                           remote_hex + "); the download was not kept");
    info("--verify: SHA-256 " + local_hex + " matches the server's");
    co_return outcome::ok();
}

asio::awaitable<void> shell::open_one_extra(std::shared_ptr<std::vector<std::unique_ptr<session>>> into, std::size_t i) {
    (*into)[i] = co_await open_extra_session();
}

asio::awaitable<std::vector<std::unique_ptr<session>>> shell::open_extra_sessions(std::size_t n) {
    auto ex = co_await asio::this_coro::executor;
    auto opened = std::make_shared<std::vector<std::unique_ptr<session>>>(n);
    auto left = std::make_shared<std::size_t>(n);
    asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < n; ++i)
        asio::co_spawn(ex, open_one_extra(opened, i), [left, &all_done](std::exception_ptr) {
            if (--*left == 0) all_done.cancel();
        });
    std::error_code ec;
    if (n > 0) co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    std::vector<std::unique_ptr<session>> out;
    for (auto& x : *opened)
        if (x) out.push_back(std::move(x));
    co_return out;
}

int shell::cmd_put(const std::string& local, const std::string& remote, bool resume) {
    auto started = std::chrono::steady_clock::now();
    std::uint64_t moved = 0;
    outcome o = put_once(local, remote, resume, moved);
    // Standard input cannot be read a second time; a file can.
    if (!o && local != "-" && worth_another_session(o, *sess_) && run(replace_session())) {
        info("The server refused the data connection; the upload goes on in a new session");
        started = std::chrono::steady_clock::now();
        o = put_once(local, remote, resume, moved);
    }
    if (!o) return fail(o);
    if (local != "-" && moved != std::numeric_limits<std::uint64_t>::max()) report_moved(local, remote, moved, started);
    return exit_ok;
}

outcome shell::put_once(const std::string& local, const std::string& remote, bool resume, std::uint64_t& moved) {
    session& s = *sess_;
    std::uint64_t offset = 0;
    if (resume) {
        std::uint64_t n = 0;
        auto o = run(s.size(remote, n));
        if (o) offset = n;
        else if (o.reply_code / 100 != 5) return o;  // 550: nothing there yet, upload all
    }
    upload_file file;
    if (auto o = file.open(local, offset); !o) return o;
    if (resume && offset && offset == file.size()) {
        info(remote + " is already complete (" + std::to_string(offset) + " bytes)");
        moved = std::numeric_limits<std::uint64_t>::max();  // nothing to report
        return outcome::ok();
    }
    if (resume && offset) info("Resuming the upload of " + local + " at byte " + std::to_string(offset));
    auto bar = show_progress(base_name(local), progress_ && local != "-");
    auto progress = [&bar](std::uint64_t d, std::uint64_t t) { bar->update(d, t); };
    outcome o = run(s.store(remote, file, resume && offset > 0, offset, progress));
    bar->finish();
    moved = file.size() - offset;
    return o;
}

bool shell::worth_another_session(const outcome& o, const session& s) {
    if (!s.logged_in()) return true;
    if (o.reply_code / 100 == 5 || o.ec == make_error_code(errc::local_file_error)) return false;
    return o.reply_code == 421 || o.reply_code == 425 || o.reply_code == 426 ||
           o.ec == make_error_code(errc::data_connection_failed) || o.ec == make_error_code(errc::transfer_failed) ||
           o.ec == make_error_code(errc::tls_failed) || o.ec == make_error_code(errc::timeout) ||
           o.ec == make_error_code(errc::connection_closed);
}

asio::awaitable<bool> shell::replace_session() {
    std::string dir;
    if (!sess_->logged_in()) co_return false;
    const outcome here = co_await sess_->pwd(dir);
    if (!here) co_return false;
    std::unique_ptr<session> fresh = co_await open_extra_session();
    if (!fresh) co_return false;
    outcome o = co_await fresh->cwd(dir);
    if (o && (ascii_ || sess_->ascii())) o = co_await fresh->set_ascii(true);
    if (!o) {
        co_await fresh->quit();
        co_return false;
    }
    co_await sess_->quit();
    sess_ = std::move(fresh);
    co_return true;
}

int shell::cmd_mget(const std::vector<std::string>& patterns) {
    // At the prompt every file is tried; in a batch the first failure ends the command unless --continue.
    const bool stop_on_failure = !interactive_ && !keep_going_;
    int rc = exit_ok;
    for (const auto& pat : patterns) {
        std::vector<std::string> names;
        if (!has_glob(pat)) {
            names.push_back(pat);
        } else {
            proto::listing listing;
            if (auto o = run(sess_->list(dir_name(pat), listing)); !o) return fail(o);
            std::vector<std::string> skipped;
            names = remote_glob_matches(listing, pat, skipped);
            for (const auto& n : skipped)
                std::fprintf(stderr, "ferry: mget: skipping the server's name '%s'\n", proto::printable(n).c_str());
            if (names.empty()) {
                std::fprintf(stderr, "ferry: mget: no remote file matches %s\n", pat.c_str());
                rc = exit_failed;
                if (stop_on_failure) return rc;
                continue;
            }
        }
        for (const auto& n : names) {
            if (int r = cmd_get(n, "", false)) {
                rc = r;
                if (stop_on_failure) return rc;
            }
        }
    }
    return rc;
}

int shell::cmd_mput(const std::vector<std::string>& patterns) {
    const bool stop_on_failure = !interactive_ && !keep_going_;
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
            if (stop_on_failure) return rc;
            continue;
        }
        for (const auto& f : files) {
            if (int x = cmd_put(f, base_name(f), false)) {
                rc = x;
                if (stop_on_failure) return rc;
            }
        }
    }
    return rc;
}

}  // namespace ferry::client
