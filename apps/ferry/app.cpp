#include "app.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/known_servers.hpp"
#include "client/netrc.hpp"
#include "client/shell_words.hpp"
#include "proto/printable.hpp"
#include "terminal.hpp"

namespace fs = std::filesystem;

namespace ferry::cli {

using client::base_name;
using client::lower;
using client::outcome;

app::app(options o) : opts_(std::move(o)) {
    verbose_ = opts_.verbose;
    ascii_ = opts_.ascii;
    keep_going_ = opts_.keep_going;
    password_file_ = opts_.password_file;
}

// QUIT while the session's hooks (which call into this object) can still run.
app::~app() { disconnect(); }

std::optional<std::string> app::ask_password(const std::string& prompt) { return prompt_hidden(prompt); }

std::unique_ptr<client::progress_display> app::show_progress(const std::string& name, bool enabled) {
    struct bar final : client::progress_display {
        progress_bar shown;
        bar(const std::string& n, bool e) : shown(n, e) {}
        void update(std::uint64_t done, std::uint64_t total) override { shown.update(done, total); }
        void finish() override { shown.finish(); }
    };
    return std::make_unique<bar>(name, enabled);
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

void app::make_session() {
    client::session_hooks h;
    h.trace = [this](std::string_view s) {
        if (verbose_) std::fprintf(stderr, "%s\n", proto::printable(s).c_str());
    };
    h.warn = [this](std::string_view s) {
        warnings_given_.emplace(s);
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
        password = client::read_password_file(opts_.password_file, error);
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
    last_url_ = u;
    last_user_ = user;
    last_password_ = password;
    if (opts_.ccc) {
        if (o = run(sess_->clear_command_channel()); !o) {
            run_void(sess_->quit());
            return fail(o, exit_connection);
        }
    }
    if (ascii_ || u.type == 'A') run(sess_->set_ascii(true));
    if (interactive_) {
        info("Connected to " + u.host_port() + " as " + user + (sess_->tls_session() ? ", " + sess_->tls_description() : ", WITHOUT TLS") +
             (sess_->protection_private() ? ", data protected" : ", data in clear"));
    }
    if (enter_directory && !u.path.empty()) {
        if (o = run(sess_->cwd(u.path)); !o) return fail(o);
    }
    return exit_ok;
}

// ---------------------------------------------------------------------------------------------
// One-shot commands

int app::get(const std::string& url_text, const std::string& local, bool resume, unsigned segments, bool verify) {
    std::string error;
    auto u = client::parse_url(url_text, false, error);
    if (!u) return fail(outcome::fail(client::errc::protocol_error, error), exit_usage);
    if (u->names_directory) {
        std::fprintf(stderr, "ferry get: '%s' names a folder; give a file (ferry ls lists the folder)\n", url_text.c_str());
        return exit_usage;
    }
    progress_ = !opts_.no_progress && stdout_is_tty() && local != "-";
    if (int rc = connect(*u, false)) return rc;
    int rc = cmd_get(u->path, local, resume, segments, verify);
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

int app::mirror(client::mirror_request r) {
    std::string error;
    auto u = client::parse_url(r.remote_root, false, error);
    if (!u) return fail(outcome::fail(client::errc::protocol_error, error), exit_usage);
    r.remote_root = u->path;
    std::error_code ec;
    if (r.upload ? !fs::is_directory(r.local_root, ec)
                 : fs::exists(fs::symlink_status(r.local_root, ec)) && !fs::is_directory(r.local_root, ec)) {
        std::fprintf(stderr, "ferry mirror: %s is not a local folder\n", r.local_root.c_str());
        return exit_usage;
    }
    progress_ = !opts_.no_progress && stdout_is_tty();
    if (int rc = connect(*u, false)) return rc;
    int rc = cmd_mirror(r);
    disconnect();
    return rc;
}

asio::awaitable<std::unique_ptr<client::session>> app::open_extra_session() {
    if (!last_url_ || !sess_) co_return nullptr;
    client::session_hooks h;
    h.trace = [this](std::string_view s) {
        if (verbose_) std::fprintf(stderr, "%s\n", proto::printable(s).c_str());
    };
    // What the first session warned of (--insecure, and such) is not said again for each other.
    h.warn = [this](std::string_view s) {
        if (warnings_given_.emplace(s).second)
            std::fprintf(stderr, "ferry: warning: %s\n", proto::printable(s).c_str());
    };
    // The first session accepted this server (or its fingerprint): the same certificate only.
    std::string fp = sess_->server_fingerprint();
    h.accept_untrusted = [fp](const tls::peer_check& pc, const std::string&, std::string&) {
        return !fp.empty() && pc.fingerprint == fp;
    };
    auto x = std::make_unique<client::session>(io_.get_executor(), sess_->settings(), trust_, std::move(h));
    x->resume_control_from(*sess_);  // a resumed handshake where the server allows it
    outcome o = co_await x->open(last_url_->host, last_url_->port, last_url_->implicit_tls);
    if (o) o = co_await x->login(last_user_, last_password_);
    if (o && opts_.ccc) o = co_await x->clear_command_channel();
    if (o) x->give_spare_ticket_to(*sess_);  // so that the next one can resume too
    if (!o) {
        std::fprintf(stderr, "ferry: cannot open another session (%s); going on with fewer\n",
                     proto::printable(o.message).c_str());
        co_await x->quit();
        co_return nullptr;
    }
    co_return x;
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
