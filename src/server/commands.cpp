// Command handlers that do not move data, and the command table.
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <ctime>

#include "net/address_policy.hpp"
#include "proto/address.hpp"
#include "proto/ascii.hpp"
#include "proto/command.hpp"
#include "proto/features.hpp"
#include "proto/printable.hpp"
#include "proto/reply_code.hpp"
#include "server/command_table.hpp"
#include "server/detail/listing_source.hpp"
#include "server/detail/parse_number.hpp"

namespace ferry::server {

namespace code = proto::code;
using asio::ip::tcp;

using detail::parse_u64;

std::string session::vpath(const std::string& arg) const { return vfs::resolve(cwd_, arg); }

namespace {
// What root::stat gives, as one value (the result of a disk-pool job).
struct stat_result {
    proto::file_info fi;
    std::error_code ec;
};
auto stat_job(std::shared_ptr<const vfs::root> fs, std::string vpath) {
    return [fs = std::move(fs), vpath = std::move(vpath)] {
        stat_result r;
        r.ec = fs->stat(vpath, r.fi);
        return r;
    };
}
}  // namespace

int session::error_code_for(const std::error_code& ec) const {
    if (ec == std::errc::no_space_on_device) return code::insufficient_storage;
    if (ec == std::errc::file_too_large) return code::exceeded_storage;
    return code::file_unavailable;
}

std::string session::describe_error(const std::error_code& ec) const {
    if (ec == std::errc::no_such_file_or_directory) return "No such file or directory.";
    if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted ||
        ec == std::errc::cross_device_link)
        return "Permission denied.";
    if (ec == std::errc::file_exists) return "File exists.";
    if (ec == std::errc::not_a_directory) return "Not a directory.";
    if (ec == std::errc::is_a_directory) return "Is a directory.";
    if (ec == std::errc::directory_not_empty) return "Directory not empty.";
    if (ec == std::errc::no_space_on_device) return "No space left on the server's disk.";
    std::string m = ec.message();
    if (!m.empty()) m[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(m[0])));
    return m + ".";
}

// ---- login -------------------------------------------------------------------------------

asio::awaitable<void> session::cmd_user(const std::string& arg) {
    if (user_) {
        co_await reply(code::not_logged_in, "Already logged in; use REIN to log in as someone else.");
        co_return;
    }
    if (auto r = check_login(cfg_, sec_)) {
        co_await reply(r->code, r->text);
        co_return;
    }
    if (auto r = check_user_for_certificate(cfg_, sec_, cert_user_, arg)) {
        co_await reply(r->code, r->text);
        co_return;
    }
    if (certificate_replaces_password(cfg_, sec_, cert_user_, arg)) {
        // SECURE_PASSWORD OPTIONAL: the verified certificate stands in for the password.
        std::string why;
        switch (co_await log_in(ctx_->users.find(arg), true, why)) {
            case login_result::ok:
                co_await reply(code::logged_in_secured, "User " + arg + " logged in, authorized by the client certificate.");
                co_return;
            case login_result::too_many:
                co_await reply(code::service_not_available, why + " Closing.");
                quit_ = true;
                co_return;
            case login_result::refused: break;
        }
    }
    pending_user_ = arg;
    co_await reply(code::need_password, "Password required for " + arg + ".");
}

namespace {

// The users file's from= and sha256= options: why this login may not go on, or nothing.
std::optional<std::string> check_user_options(const auth::user& u, const asio::ip::address& peer,
                                              const std::string& client_fingerprint) {
    if (!u.networks.empty() &&
        std::none_of(u.networks.begin(), u.networks.end(), [&](const std::string& n) { return net::in_subnet(peer, n); }))
        return peer.to_string() + " is outside the user's from= subnets";
    if (!u.certificate.empty() && client_fingerprint != u.certificate)
        return client_fingerprint.empty() ? std::string("the user's sha256= needs a client certificate, and none was sent")
                                          : "the client certificate " + client_fingerprint + " is not the user's sha256=";
    return std::nullopt;
}

// SYSTEMHOMES: a system user's home must lie strictly below it (compared lexically: the home is
// then opened beneath no symbolic link, and Landlock holds the session to SYSTEMHOMES anyway).
bool system_home_allowed(const std::string& home, const std::string& homes_root) {
    const std::string h = std::filesystem::path(home).lexically_normal().string();
    std::string root = std::filesystem::path(homes_root).lexically_normal().string();
    if (root.empty() || root.back() != '/') root += '/';
    return h.size() > root.size() && h.compare(0, root.size(), root) == 0;
}

}  // namespace

asio::awaitable<session::login_result> session::log_in(const auth::user* u, bool by_certificate,
                                                      std::string& why) {
    if (!u) co_return login_result::refused;
    // SECURITY: stolen passwords: a user's own limits (users file options) hold whatever the
    // password; the client hears "Login incorrect" as for a wrong password, the log says why.
    if (auto refusal = check_user_options(*u, peer_addr(), client_fingerprint_)) {
        ctx_->log->warn("[{}] login of {} refused: {}", id_, u->name, *refusal);
        login_refused(login_refusal::user_options, u->name, *refusal);
        co_return login_result::refused;
    }
    struct opened {
        std::shared_ptr<const vfs::root> fs;
        std::error_code ec;
    };
    // A system user's home is opened with the user's rights (on_disk), and not shared: the
    // cache would hand it to whoever names the same folder.
    auto job = [ctx = ctx_, home = u->home, own = identity_ != nullptr] {
        opened o;
        if (own) {
            auto r = std::make_shared<const vfs::root>(vfs::root::open(home, o.ec));
            if (!o.ec) o.fs = std::move(r);
        } else {
            o.fs = ctx->open_home(home, o.ec);
        }
        return o;
    };
    opened o = co_await on_disk(std::move(job));
    const std::error_code ec = o.ec;
    if (ec) {
        // SECURITY: account probing: only the log says why; the client gets the reply of a wrong
        // password, so "home folder unavailable" cannot confirm a guessed password.
        ctx_->log->warn("[{}] login of {} refused: home folder {} unusable: {}", id_, u->name, u->home, ec.message());
        login_refused(login_refusal::policy, u->name, "home folder " + u->home + " unusable: " + ec.message());
        co_return login_result::refused;
    }
    if (!slot_.enter_user(u->name, cfg_.max_sessions_per_user, why)) {
        ctx_->log->warn("[{}] login of {} refused: {}", id_, u->name, why);
        login_refused(login_refusal::limits, u->name, why);
        co_return login_result::too_many;
    }
    user_ = u;
    fs_ = std::move(o.fs);
    cwd_ = "/";
    pending_user_.clear();
    login_timer_.reset();
    ctx_->log->info("[{}] login {} ({}{})", id_, u->name, sec_.control_secure ? "TLS" : "clear",
                    by_certificate ? ", by certificate" : "");
    metrics::add(counters().logins_ok);
    if (events_on()) {
        auto e = event("login");
        e.str("result", "ok").str("method", by_certificate ? "certificate" : "password");
        e.str("control", sec_.control_secure ? link_->tls_protocol() : sec_.control_cleared ? "cleared" : "clear");
        if (sec_.control_secure) e.str("cipher", link_->tls_cipher());
        if (identity_) e.flag("system_user", true);
        record(e);
    }
    co_return login_result::ok;
}

asio::awaitable<void> session::cmd_pass(const std::string& arg) {
    if (user_) {
        co_await reply(code::superfluous, "Already logged in.");
        co_return;
    }
    if (pending_user_.empty()) {
        co_await reply(code::bad_sequence, "Send USER first.");
        co_return;
    }
    const auto window = std::chrono::seconds(cfg_.login_attempts_seconds);
    const auto started = std::chrono::steady_clock::now();
    // SECURITY: password guessing over many connections: an address past LOGINATTEMPTS gets no
    // more guesses, on this connection either.
    if (auto left = ctx_->logins.refused_for(net::host_key(peer_addr()), started, cfg_.login_attempts, window); left.count() > 0) {
        login_refused(login_refusal::lockout, pending_user_, "too many failed logins from the address (LOGINATTEMPTS)");
        co_await reply(code::service_not_available, "Too many failed logins from your address; try again in " +
                                                        std::to_string(std::chrono::ceil<std::chrono::seconds>(left).count()) +
                                                        " s.");
        quit_ = true;
        co_return;
    }
    // crypt_r takes milliseconds (SHA-512) to a tenth of a second (yescrypt): on the hash pool,
    // never on the event thread that serves other sessions.
    // A named job, not a temporary inside co_await: GCC 12 destroys such temporaries twice.
    struct checked {
        const auth::user* user = nullptr;            // a virtual user
        std::optional<auth::system_account> system;  // or a system user (PAM)
        std::string why;                             // why PAM refused (for the log)
    };
    auto job = [ctx = ctx_, name = pending_user_, password = arg, host = peer_addr().to_string()]() {
        checked c;
        // A name in the USERS file is that virtual user; any other goes to PAM (SYSTEMUSERS ON).
        if (ctx->users.find(name) || !ctx->system_users.started())
            c.user = ctx->users.authenticate(name, password);
        else
            c.system = ctx->system_users.authenticate(name, password, host, c.why);
        return c;
    };
    checked c = co_await pools_.hash.run(std::move(job));
    const auth::user* u = c.user;
    if (c.system) {
        if (!system_home_allowed(c.system->home, cfg_.system_homes)) {
            ctx_->log->warn("[{}] login of system user {} refused: home folder {} is not below SYSTEMHOMES {}", id_,
                            proto::printable(c.system->name), proto::printable(c.system->home), cfg_.system_homes);
            login_refused(login_refusal::policy, c.system->name, "home folder not below SYSTEMHOMES");
        } else {
            system_user_ = std::make_unique<auth::user>();  // no options: the global limits apply
            system_user_->name = c.system->name;
            system_user_->home = c.system->home;
            identity_ = std::make_shared<const sandbox::fs_identity>(
                sandbox::fs_identity{c.system->uid, c.system->gid, c.system->groups});
            u = system_user_.get();
        }
    } else if (!c.why.empty()) {
        ctx_->log->info("[{}] system login of {} refused: {}", id_, proto::printable(pending_user_), proto::printable(c.why));
    }
    std::string why;
    login_result r = login_result::refused;
    if (u) r = co_await log_in(u, false, why);  // not inside ?: (GCC 12 and co_await)
    if (r != login_result::ok) {
        system_user_.reset();
        identity_.reset();
    }
    if (r == login_result::too_many) {
        co_await reply(code::service_not_available, why + " Closing.");
        quit_ = true;
        co_return;
    }
    if (r == login_result::refused) {
        ++failed_logins_;
        ctx_->logins.record_failure(net::host_key(peer_addr()), started, cfg_.login_attempts, window);
        if (!u) {
            ctx_->log->info("[{}] login failed for user {}", id_, proto::printable(pending_user_));
            login_refused(login_refusal::password, pending_user_, "wrong password or unknown user");
        }
        pending_user_.clear();
        // SECURITY: password guessing: each failure costs the client a second (a timer: the event
        // thread serves others meanwhile), and a few end the session. The same reply and delay
        // whether the user exists, the password is wrong or the home folder is unusable.
        asio::steady_timer delay(link_->executor(), started + std::chrono::seconds(1));
        co_await delay.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        if (failed_logins_ >= 3 || ctx_->logins.refused_for(net::host_key(peer_addr()), started, cfg_.login_attempts, window).count() > 0) {
            co_await reply(code::service_not_available, "Too many failed logins; closing.");
            quit_ = true;
        } else {
            co_await reply(code::not_logged_in, "Login incorrect.");
        }
        co_return;
    }
    co_await reply(code::logged_in, "Login successful.");
}

void session::end_login() {
    if (user_) arm_login_timer();  // logged out: LOGINTIMEOUT counts again
    slot_.leave_user();
    user_ = nullptr;
    fs_.reset();
    system_user_.reset();
    identity_.reset();
    cwd_ = "/";
    pending_user_.clear();
    restart_ = 0;
    range_.reset();
    hash_algo_ = tls::digest_algorithm::sha256;
    rename_from_.clear();
    ascii_ = true;
    epsv_all_ = false;
    drop_passive();
    data_mode_ = data_mode::none;
}

asio::awaitable<void> session::cmd_quit(const std::string&) {
    co_await reply(code::closing_control, "Goodbye.");
    quit_ = true;
}

asio::awaitable<void> session::cmd_rein(const std::string&) {
    end_login();
    if (rein_ends_tls(cfg_, sec_)) {
        // RFC 4217: REIN also ends the security state; the reply is the last protected message.
        co_await reply(code::service_ready, "Session reset, TLS ended; send AUTH TLS and log in again.");
        if (broken_) co_return;
        std::error_code ec = co_await link_->end_tls(cfg_.rfc_level == config::tls_rfc_level::rfc4217);
        sec_ = security_state{};
        cert_user_ = nullptr;
        client_fingerprint_.clear();
        if (ec) broken_ = true;
        co_return;
    }
    // SECURITY: downgrade after CCC: "cleared" stood for the login made under TLS; the next login
    // meets every policy again (SECURE_FTP REQUIRED wants AUTH TLS first, SECURE_LOGIN a new
    // handshake's certificate).
    if (sec_.control_cleared) {
        sec_.control_cleared = false;
        cert_user_ = nullptr;
        client_fingerprint_.clear();
    }
    sec_.pbsz_done = sec_.control_secure && implicit_;
    sec_.prot_private = sec_.pbsz_done && cfg_.dataconn != config::secure_dataconn::never;
    co_await reply(code::service_ready, "Session reset; log in again.");
}

// ---- security (RFC 2228 / 4217) ----------------------------------------------------------

asio::awaitable<void> session::cmd_auth(const std::string& arg) {
    std::string mech = proto::upper(arg);
    // Not offered at all comes first: a server without TLS says so whatever the mechanism.
    auto refused = check_auth(cfg_, sec_, tls_ != nullptr, user_ != nullptr);
    if (refused && refused->code == code::not_implemented) {
        co_await reply(refused->code, refused->text);
        co_return;
    }
    if (mech != "TLS" && mech != "TLS-C" && mech != "SSL" && mech != "TLS-P") {
        co_await reply(code::not_implemented_param, "AUTH mechanism '" + arg + "' not supported; use AUTH TLS.");
        co_return;
    }
    if (refused) {
        co_await reply(refused->code, refused->text);
        co_return;
    }
    co_await reply(code::security_exchange_ok, "AUTH " + mech + " OK; starting TLS.");
    if (broken_) co_return;
    // SECURITY: STARTTLS command injection (CVE-2011-0411 style): anything that arrived in clear
    // after AUTH was sent before the handshake; it must not be executed as if protected.
    if (reader_.buffered() > 0)
        ctx_->log->warn("[{}] discarded {} clear-text bytes pipelined after AUTH", id_, reader_.buffered());
    reader_.discard_buffered();
    std::error_code ec = co_await link_->start_tls(*tls_, control_tickets);
    if (ec) {
        ctx_->log->info("[{}] TLS handshake failed: {}", id_, link_->tls_error());
        metrics::add(counters().tls_handshakes_failed);
        if (events_on()) record(event("tls_failed").str("link", "control").str("error", link_->tls_error()));
        broken_ = true;  // the peer and we disagree on the stream state: nothing sensible remains
        co_return;
    }
    // The draft's AUTH SSL and TLS-P imply protected data (as PBSZ 0 + PROT P would).
    if (mech == "SSL" || mech == "TLS-P") {
        sec_.pbsz_done = true;
        sec_.prot_private = cfg_.dataconn != config::secure_dataconn::never;
    }
    co_await control_tls_established();
}

asio::awaitable<void> session::cmd_pbsz(const std::string& arg) {
    std::uint64_t n;
    if (auto r = check_pbsz(sec_)) {
        co_await reply(r->code, r->text);
    } else if (!parse_u64(arg, n)) {
        co_await reply(code::syntax_error_args, "PBSZ takes a number; TLS uses PBSZ 0.");
    } else {
        sec_.pbsz_done = true;
        co_await reply(code::ok, "PBSZ=0");
    }
}

asio::awaitable<void> session::cmd_prot(const std::string& arg) {
    std::string level = proto::upper(arg);
    char l = level.size() == 1 ? level[0] : '?';
    if (auto r = check_prot(cfg_, sec_, l)) {
        co_await reply(r->code, r->text);
        co_return;
    }
    sec_.prot_private = l == 'P';
    co_await reply(code::ok, l == 'P' ? "Data connections will be protected (PROT P)." : "Data connections will be in clear (PROT C).");
}

asio::awaitable<void> session::cmd_ccc(const std::string&) {
    if (auto r = check_ccc(cfg_, sec_)) {
        co_await reply(r->code, r->text);
        co_return;
    }
    // Commands and replies go in clear from here on (so that firewalls can read PORT/PASV);
    // data connections keep the PROT level in force. No ticket can come over a clear control
    // connection: one goes out with this reply, a spare for the next upload (which gets none).
    link_->issue_session_ticket();
    co_await reply(code::ok, "CCC OK: the control connection continues in clear.");
    if (broken_) co_return;
    // The client moves first if it wants to: sending our close_notify right behind the 200 makes
    // some clients (lftp/GnuTLS) read both at once and take it for a disconnect.
    std::error_code ec = co_await link_->end_tls_answering(cfg_.rfc_level == config::tls_rfc_level::rfc4217,
                                                           std::chrono::milliseconds(250));
    if (ec) {
        ctx_->log->info("[{}] CCC close_notify exchange failed: {}", id_, ec.message());
        broken_ = true;
        co_return;
    }
    sec_.control_secure = false;
    sec_.control_cleared = true;
    ctx_->log->info("[{}] CCC: control connection now in clear", id_);
    metrics::add(counters().ccc_total);
    if (events_on()) record(event("ccc"));
}

// ---- information -------------------------------------------------------------------------

asio::awaitable<void> session::cmd_noop(const std::string&) { co_await reply(code::ok, "NOOP ok."); }

asio::awaitable<void> session::cmd_syst(const std::string&) { co_await reply(code::system_type, "UNIX Type: L8"); }

asio::awaitable<void> session::cmd_feat(const std::string&) {
    std::vector<std::string> features;
    if (tls_ && cfg_.auth_tls) features = {"AUTH TLS", "PBSZ", "PROT"};
    const auto security = features.size();
    for (std::string f : {"EPRT", "EPSV", "HOST", "MDTM", "MFMT", "RANG STREAM", "REST STREAM", "SIZE", "TVFS", "UTF8"})
        features.push_back(std::move(f));
    features.push_back(facts_.feat_line());
    if (cfg_.hash_commands) {
        std::vector<std::string> digests = hash_features(hash_algo_);  // named: see cmd_size on GCC 12
        features.insert(features.end(), digests.begin(), digests.end());
    }
    std::sort(features.begin() + static_cast<std::ptrdiff_t>(security), features.end());
    co_await reply(code::system_status, proto::feat_reply_text(features));
}

asio::awaitable<void> session::cmd_opts(const std::string& arg) {
    std::string a = proto::upper(arg);
    if (a == "UTF8 ON" || a == "UTF8" || a == "UTF-8 ON") {
        co_await reply(code::ok, "UTF8 is always on.");
    } else if (a == "HASH" || a.rfind("HASH ", 0) == 0) {
        std::string choice = a.size() > 5 ? arg.substr(5) : std::string();  // named: GCC 12, see cmd_size
        co_await opts_hash(choice);
    } else if (a.rfind("MLST", 0) == 0) {
        std::string req = arg.size() > 5 ? arg.substr(5) : std::string();
        co_await reply(code::ok, "MLST OPTS " + facts_.select(req));
    } else {
        co_await reply(code::syntax_error_args, "OPTS supports UTF8 ON, MLST facts and HASH [algorithm].");
    }
}

asio::awaitable<void> session::cmd_help(const std::string& arg) {
    if (!arg.empty()) {
        if (const command_entry* e = find_command(proto::upper(arg))) {
            co_await reply(code::help, "Syntax: " + std::string(e->help));
        } else {
            co_await reply(code::syntax_error_args, "Unknown command '" + arg + "'.");
        }
        co_return;
    }
    std::string text = "The following commands are recognized:\n";
    int col = 0;
    for (const auto& e : commands()) {
        text += std::string(e.verb);
        if (++col % 8 == 0)
            text += "\n";
        else if (&e != &commands().back())  // no spaces at the end of the last line
            text += std::string(e.verb.size() < 5 ? 5 - e.verb.size() : 1, ' ');  // XSHA256: one space
    }
    if (col % 8 != 0) text += "\n";
    text += "Help OK.";
    co_await reply(code::help, text);
}

asio::awaitable<void> session::cmd_stat(const std::string& arg) {
    if (transferring()) {
        co_await reply(code::system_status, transfer_progress() + "\nEnd of status.");
        co_return;
    }
    if (arg.empty()) {
        std::string text = "Ferry FTPS server status:\n";
        text += "Connected from " + peer_text() + "\n";
        text += user_ ? "Logged in as " + user_->name + "\n" : std::string("Not logged in\n");
        text += std::string("Control connection: ") + (sec_.control_secure ? link_->tls_protocol() : std::string("clear")) + "\n";
        text += std::string("Data protection: ") + (sec_.prot_private ? "private (PROT P)" : "clear (PROT C)") + "\n";
        text += std::string("TYPE: ") + (ascii_ ? "ASCII" : "BINARY") + "; STRUcture: File; transfer MODE: Stream\n";
        text += "End of status.";
        co_await reply(code::system_status, text);
        co_return;
    }
    if (!user_) {
        co_await reply(code::not_logged_in, "Please log in with USER and PASS first.");
        co_return;
    }
    std::string error;
    int c = 0;
    auto src = co_await open_listing(arg, 'L', error, c);
    if (!src) {
        co_await reply(c, error);
        co_return;
    }
    // Listing lines go inside a 213 multi-line reply, bounded: a huge folder is cut short (LIST
    // streams it whole over a data connection).
    constexpr std::size_t stat_limit = 256 * 1024;
    std::string text = "Status of " + arg + ":\n";
    for (;;) {
        std::error_code ec;
        auto job = [src, &ec] { return src->next(ec); };
        std::string chunk = co_await on_disk(std::move(job));
        if (ec || chunk.empty()) break;
        for (std::size_t pos = 0; pos < chunk.size();) {
            std::size_t e = chunk.find("\r\n", pos);
            text += chunk.substr(pos, e - pos) + "\n";
            pos = e + 2;
        }
        if (text.size() > stat_limit) {
            text += "(more entries: use LIST)\n";
            break;
        }
    }
    text += "End of status.";
    co_await reply(code::file_status, text);
}

asio::awaitable<void> session::cmd_host(const std::string& arg) {
    // RFC 7151: a single virtual host here, so any name is accepted, but only before login.
    if (user_) {
        co_await reply(code::bad_sequence, "HOST must come before login.");
        co_return;
    }
    host_seen_ = true;
    co_await reply(code::service_ready, "Host " + arg + " accepted.");
}

// ---- transfer parameters -----------------------------------------------------------------

asio::awaitable<void> session::cmd_type(const std::string& arg) {
    std::string t = proto::upper(arg);
    if (t == "I" || t == "L 8" || t == "L8") {
        ascii_ = false;
        co_await reply(code::ok, "Switching to BINARY mode.");
    } else if (t == "A" || t == "A N") {
        ascii_ = true;
        co_await reply(code::ok, "Switching to ASCII mode.");
    } else {
        co_await reply(code::not_implemented_param, "TYPE " + arg + " not supported; use A or I.");
    }
}

asio::awaitable<void> session::cmd_mode(const std::string& arg) {
    if (proto::upper(arg) == "S")
        co_await reply(code::ok, "Mode set to Stream.");
    else
        co_await reply(code::not_implemented_param, "Only MODE S (stream) is supported.");
}

asio::awaitable<void> session::cmd_stru(const std::string& arg) {
    if (proto::upper(arg) == "F")
        co_await reply(code::ok, "Structure set to File.");
    else
        co_await reply(code::not_implemented_param, "Only STRU F (file) is supported.");
}

asio::awaitable<void> session::cmd_allo(const std::string&) {
    co_await reply(code::superfluous, "ALLO not needed; space is allocated as data arrives.");
}

asio::awaitable<void> session::cmd_rest(const std::string& arg) {
    std::uint64_t n;
    if (!parse_u64(arg, n)) {
        co_await reply(code::syntax_error_args, "REST takes a byte offset (a whole number).");
        co_return;
    }
    restart_ = n;
    range_.reset();  // draft-bryan-ftp-range: REST and RANG replace each other
    co_await reply(code::pending_more_info, "Restarting at " + arg + ". Send RETR or STOR to continue.");
}

asio::awaitable<void> session::cmd_site(const std::string& arg) {
    std::string a = proto::upper(arg.substr(0, arg.find(' ')));
    if (a == "HELP") {
        co_await reply(code::help, "SITE commands: HELP, CHMOD mode path");
    } else if (a == "CHMOD") {
        if (!user_) {
            co_await reply(code::not_logged_in, "Please log in with USER and PASS first.");
            co_return;
        }
        if (user_->read_only) {
            if (events_on()) record(event("refusal").str("reason", "read_only").str("command", "SITE CHMOD").num("code", code::file_unavailable));
            co_await reply(code::file_unavailable, read_only_refusal);
            co_return;
        }
        std::string rest = arg.size() > 6 ? arg.substr(6) : "";
        auto sp = rest.find(' ');
        unsigned mode = 0;
        auto [p, pe] = std::from_chars(rest.data(), rest.data() + (sp == std::string::npos ? rest.size() : sp), mode, 8);
        if (sp == std::string::npos || pe != std::errc() || mode > 07777) {
            co_await reply(code::syntax_error_args, "SITE CHMOD takes an octal mode and a path.");
            co_return;
        }
        auto job = [fs = fs_, p = vpath(rest.substr(sp + 1)), mode] { return fs->chmod(p, mode); };
        std::error_code ec = co_await on_disk(std::move(job));
        if (ec)
            co_await reply(code::file_unavailable, describe_error(ec));
        else
            co_await reply(code::ok, "SITE CHMOD command ok.");
    } else {
        co_await reply(code::not_implemented, "Unknown SITE command; SITE HELP lists them.");
    }
}

// ---- names and folders -------------------------------------------------------------------

asio::awaitable<void> session::cmd_pwd(const std::string&) {
    co_await reply(code::path_created, proto::quote_pathname(cwd_) + " is the current directory.");
}

asio::awaitable<void> session::cmd_cwd(const std::string& arg) {
    std::string p = vpath(arg);
    auto job = [fs = fs_, p] { return fs->can_enter(p); };
    std::error_code ec = co_await on_disk(std::move(job));
    if (ec) {
        co_await reply(code::file_unavailable, "Cannot change directory: " + describe_error(ec));
        co_return;
    }
    cwd_ = p;
    co_await reply(code::file_action_ok, "Directory changed to " + p + ".");
}

asio::awaitable<void> session::cmd_cdup(const std::string&) { co_await cmd_cwd(".."); }

asio::awaitable<void> session::cmd_mkd(const std::string& arg) {
    std::string p = vpath(arg);
    auto job = [fs = fs_, p] { return fs->make_dir(p); };
    std::error_code ec = co_await on_disk(std::move(job));
    if (ec)
        co_await reply(code::file_unavailable, "Cannot create directory: " + describe_error(ec));
    else
        co_await reply(code::path_created, proto::quote_pathname(p) + " created.");
}

asio::awaitable<void> session::cmd_rmd(const std::string& arg) {
    auto job = [fs = fs_, p = vpath(arg)] { return fs->remove_dir(p); };
    std::error_code ec = co_await on_disk(std::move(job));
    if (ec)
        co_await reply(code::file_unavailable, "Cannot remove directory: " + describe_error(ec));
    else
        co_await reply(code::file_action_ok, "Directory removed.");
}

asio::awaitable<void> session::cmd_dele(const std::string& arg) {
    auto job = [fs = fs_, p = vpath(arg)] { return fs->remove_file(p); };
    std::error_code ec = co_await on_disk(std::move(job));
    if (ec)
        co_await reply(code::file_unavailable, "Cannot delete: " + describe_error(ec));
    else
        co_await reply(code::file_action_ok, "File deleted.");
}

asio::awaitable<void> session::cmd_rnfr(const std::string& arg) {
    std::string p = vpath(arg);
    auto job = stat_job(fs_, p);
    stat_result st = co_await on_disk(std::move(job));
    const std::error_code& ec = st.ec;
    if (ec) {
        rename_from_.clear();
        co_await reply(code::file_unavailable, "Cannot rename: " + describe_error(ec));
        co_return;
    }
    rename_from_ = p;
    co_await reply(code::pending_more_info, "Ready for RNTO.");
}

asio::awaitable<void> session::cmd_rnto(const std::string& arg) {
    if (rename_from_.empty()) {
        co_await reply(code::bad_sequence, "Send RNFR first.");
        co_return;
    }
    auto job = [fs = fs_, from = rename_from_, to = vpath(arg)] { return fs->rename(from, to); };
    std::error_code ec = co_await on_disk(std::move(job));
    rename_from_.clear();
    if (ec)
        co_await reply(code::file_unavailable, "Cannot rename: " + describe_error(ec));
    else
        co_await reply(code::file_action_ok, "Rename successful.");
}

asio::awaitable<void> session::cmd_size(const std::string& arg) {
    std::string p = vpath(arg);
    auto job = stat_job(fs_, p);
    stat_result st = co_await on_disk(std::move(job));
    const proto::file_info& fi = st.fi;
    std::error_code ec = st.ec;
    if (ec || fi.type != proto::file_info::kind::file) {
        // Built outside co_await: GCC 12 destroys temporaries of a ?: inside co_await twice.
        std::string why = ec ? "Cannot get size: " + describe_error(ec) : std::string("Not a regular file.");
        co_await reply(code::file_unavailable, why);
        co_return;
    }
    std::uint64_t size = fi.size;
    if (ascii_) {
        // RFC 3659: SIZE is the size of the transfer in the current TYPE; count the LFs.
        constexpr std::uint64_t limit = 64ull << 20;
        if (size > limit) {
            co_await reply(code::file_unavailable, "SIZE in ASCII mode is refused for files over 64 MiB; use TYPE I.");
            co_return;
        }
        // Reading up to 64 MiB takes long: a second disk-pool job (the size limit is checked first).
        struct counted {
            std::uint64_t size;
            std::error_code ec;
        };
        auto count_job = [fs = fs_, p, size]() {
            counted c{size, {}};
            auto fd = fs->open_read(p, c.ec);
            std::vector<char> buf(1 << 16);
            ssize_t n;
            while (!c.ec && (n = ::read(fd.get(), buf.data(), buf.size())) > 0)
                c.size += proto::ascii_size_increase(buf.data(), static_cast<std::size_t>(n));
            return c;
        };
        counted c = co_await on_disk(std::move(count_job));
        size = c.size;
        ec = c.ec;
        if (ec) {
            co_await reply(code::file_unavailable, "Cannot get size: " + describe_error(ec));
            co_return;
        }
    }
    co_await reply(code::file_status, std::to_string(size));
}

asio::awaitable<void> session::cmd_mdtm(const std::string& arg) {
    auto job = stat_job(fs_, vpath(arg));
    stat_result st = co_await on_disk(std::move(job));
    proto::file_info& fi = st.fi;
    const std::error_code& ec = st.ec;
    if (ec || fi.type != proto::file_info::kind::file) {
        std::string why = ec ? "Cannot get time: " + describe_error(ec) : std::string("Not a regular file.");
        co_await reply(code::file_unavailable, why);
        co_return;
    }
    co_await reply(code::file_status, proto::format_timeval(fi.mtime));
}

asio::awaitable<void> session::cmd_mfmt(const std::string& arg) {
    auto sp = arg.find(' ');
    std::int64_t t;
    if (sp == std::string::npos || !proto::parse_timeval(arg.substr(0, sp), t)) {
        co_await reply(code::syntax_error_args, "MFMT takes YYYYMMDDHHMMSS and a path.");
        co_return;
    }
    std::string name = arg.substr(sp + 1);
    auto job = [fs = fs_, p = vpath(name), t] { return fs->set_mtime(p, t); };
    std::error_code ec = co_await on_disk(std::move(job));
    if (ec)
        co_await reply(code::file_unavailable, "Cannot set time: " + describe_error(ec));
    else
        co_await reply(code::file_status, "Modify=" + proto::format_timeval(t) + "; " + name);
}

asio::awaitable<void> session::cmd_mlst(const std::string& arg) {
    std::string p = vpath(arg);
    auto job = stat_job(fs_, p);
    stat_result st = co_await on_disk(std::move(job));
    proto::file_info& fi = st.fi;
    const std::error_code& ec = st.ec;
    if (ec) {
        co_await reply(code::file_unavailable, "Cannot list: " + describe_error(ec));
        co_return;
    }
    fi.name = p;  // RFC 3659 7.2: MLST names the object by its path name
    co_await reply(code::file_action_ok, "Listing " + p + "\n" + proto::format_mlsx(fi, facts_) + "\nEnd");
}

// ---- data connection set-up --------------------------------------------------------------

asio::awaitable<void> session::reply_data_setup(int c, std::string_view text) {
    // TLS 1.3 clients may have used up their tickets (curl#4654, proftpd#1177): a fresh one goes
    // out just before this reply, so the coming data connection can resume the session.
    if (!sec_.control_secure || !sec_.prot_private) {
        co_await reply(c, text);
        co_return;
    }
    link_->cork(true);  // ticket and reply in one segment: one wake-up of the client
    link_->issue_session_ticket();
    co_await reply(c, text);
    link_->cork(false);
}

asio::awaitable<bool> session::refused_after_epsv_all() {
    if (!epsv_all_) co_return false;
    co_await reply(code::bad_sequence, "Only EPSV may set up data connections after EPSV ALL.");
    co_return true;
}

asio::awaitable<bool> session::open_passive() {
    // SECURITY: passive port exhaustion: a session holds one listener at most (the previous one
    // is closed here), and one user at most a share of PASSIVEDATAPORTS.
    drop_passive();
    if (!slot_.take_passive(session_limits::passive_share(cfg_.passive_low, cfg_.passive_high))) {
        data_mode_ = data_mode::none;
        ctx_->log->info("[{}] passive port refused: {} holds its share of PASSIVEDATAPORTS", id_, user_->name);
        data_refused(data_refusal::no_port, "the user's sessions hold their share of PASSIVEDATAPORTS");
        co_await reply(code::cannot_open_data, "Your other sessions hold their share of the passive data ports "
                                               "(PASSIVEDATAPORTS); finish a transfer there and try again.");
        co_return false;
    }
    std::error_code ec = link_->listen_passive(cfg_.passive_low, cfg_.passive_high);
    if (!ec) {
        data_mode_ = data_mode::passive;
        arm_passive_expiry();
        if (sec_.prot_private && sec_.control_secure) start_early_data();
        co_return true;
    }
    slot_.drop_passive();
    data_mode_ = data_mode::none;
    std::string why = ec == asio::error::address_in_use
                          ? std::string("All passive data ports (PASSIVEDATAPORTS) are in use; try again.")
                          : "Cannot open a passive data port: " + ec.message() + ".";
    data_refused(data_refusal::no_port, why);
    co_await reply(code::cannot_open_data, why);
    co_return false;
}

asio::awaitable<void> session::use_active_target(const char* verb, const asio::ip::address& target,
                                                 std::uint16_t port) {
    std::string why = net::check_active_target(peer_addr(), target, port,
                                               cfg_.port_ipaddr == config::redirect_policy::redirect,
                                               cfg_.port_low_ports);
    if (!why.empty()) {
        data_refused(data_refusal::bounce, std::string(verb) + " " + target.to_string() + " port " +
                                               std::to_string(port) + ": " + why);
        co_await reply(code::syntax_error_args, why);
        co_return;
    }
    drop_passive();
    active_target_ = tcp::endpoint(target, port);
    advertised_.clear();
    data_mode_ = data_mode::active;
    co_await reply_data_setup(code::ok, std::string(verb) + " command successful.");
}

asio::awaitable<void> session::cmd_pasv(const std::string&) {
    if (co_await refused_after_epsv_all()) co_return;
    if (!local_addr().is_v4()) {
        co_await reply(code::network_protocol_not_supported, "PASV cannot carry an IPv6 address; use EPSV.");
        co_return;
    }
    if (!co_await open_passive()) co_return;
    // Behind NAT the local address means nothing to the client: PASSIVEADDRESS names the one to show.
    std::string shown = local_addr().to_string();
    std::string configured = net::choose_passive_address(cfg_.passive_addresses, peer_addr());
    if (!configured.empty()) {
        std::error_code rec;
        auto a = co_await ctx_->names.resolve_v4(configured, rec);
        if (rec)
            ctx_->log->warn("[{}] PASSIVEADDRESS {} cannot be resolved ({}); advertising {}", id_, configured,
                            rec.message(), shown);
        else
            shown = a.to_string();
    }
    proto::host_port hp{shown, link_->passive_port(), 1};
    if (events_on()) advertised_ = shown + ":" + std::to_string(hp.port);
    co_await reply_data_setup(code::entering_passive, *proto::format_pasv_reply(hp));
}

asio::awaitable<void> session::cmd_epsv(const std::string& arg) {
    std::string a = proto::upper(arg);
    if (a == "ALL") {
        epsv_all_ = true;
        co_await reply(code::ok, "EPSV ALL accepted; only EPSV from now on.");
        co_return;
    }
    const char* family = local_addr().is_v4() ? "1" : "2";
    if (!a.empty() && a != family) {
        co_await reply(code::network_protocol_not_supported,
                       std::string("Network protocol not supported, use (") + family + ")");
        co_return;
    }
    if (!co_await open_passive()) co_return;
    if (events_on()) advertised_ = "|||" + std::to_string(link_->passive_port()) + "|";
    co_await reply_data_setup(code::entering_extended_passive, proto::format_epsv_reply(link_->passive_port()));
}

asio::awaitable<void> session::cmd_port(const std::string& arg) {
    if (co_await refused_after_epsv_all()) co_return;
    auto hp = proto::parse_port_arg(arg);
    if (!hp) {
        co_await reply(code::syntax_error_args, "PORT takes h1,h2,h3,h4,p1,p2.");
        co_return;
    }
    if (!peer_addr().is_v4()) {
        co_await reply(code::network_protocol_not_supported, "PORT cannot reach an IPv6 client; use EPRT.");
        co_return;
    }
    co_await use_active_target("PORT", asio::ip::make_address(hp->host), hp->port);
}

asio::awaitable<void> session::cmd_eprt(const std::string& arg) {
    if (co_await refused_after_epsv_all()) co_return;
    auto hp = proto::parse_eprt_arg(arg);
    if (!hp) {
        co_await reply(code::syntax_error_args, "EPRT takes |family|address|port|.");
        co_return;
    }
    const int family = peer_addr().is_v4() ? 1 : 2;
    if (hp->family != family) {
        co_await reply(code::network_protocol_not_supported,
                       "Network protocol not supported, use (" + std::to_string(family) + ")");
        co_return;
    }
    co_await use_active_target("EPRT", net::unmapped(asio::ip::make_address(hp->host)), hp->port);
}

// ---- the table ---------------------------------------------------------------------------

const std::vector<command_entry>& commands() {
    static const std::vector<command_entry> table = {
        {"ABOR", &session::cmd_abor, during_transfer, "ABOR"},
        {"ALLO", &session::cmd_allo, needs_login, "ALLO <size>"},
        {"APPE", &session::cmd_appe, needs_login | writes | needs_arg, "APPE <path>"},
        {"AUTH", &session::cmd_auth, pre_auth | needs_arg, "AUTH TLS"},
        {"CCC", &session::cmd_ccc, needs_login, "CCC"},
        {"CDUP", &session::cmd_cdup, needs_login, "CDUP"},
        {"CWD", &session::cmd_cwd, needs_login | needs_arg, "CWD <path>"},
        {"DELE", &session::cmd_dele, needs_login | writes | needs_arg, "DELE <path>"},
        {"EPRT", &session::cmd_eprt, needs_login | needs_arg, "EPRT |family|address|port|"},
        {"EPSV", &session::cmd_epsv, needs_login, "EPSV [1|2|ALL]"},
        {"FEAT", &session::cmd_feat, pre_auth, "FEAT"},
        {"HASH", &session::cmd_hash, needs_login | needs_arg, "HASH <path>"},
        {"HELP", &session::cmd_help, pre_auth | during_transfer, "HELP [command]"},
        {"HOST", &session::cmd_host, pre_auth | needs_arg, "HOST <name>"},
        {"LIST", &session::cmd_list, needs_login, "LIST [path]"},
        {"MDTM", &session::cmd_mdtm, needs_login | needs_arg, "MDTM <path>"},
        {"MFMT", &session::cmd_mfmt, needs_login | writes | needs_arg, "MFMT <YYYYMMDDHHMMSS> <path>"},
        {"MKD", &session::cmd_mkd, needs_login | writes | needs_arg, "MKD <path>"},
        {"MLSD", &session::cmd_mlsd, needs_login, "MLSD [path]"},
        {"MLST", &session::cmd_mlst, needs_login, "MLST [path]"},
        {"MODE", &session::cmd_mode, needs_arg, "MODE S"},
        {"NLST", &session::cmd_nlst, needs_login, "NLST [path]"},
        {"NOOP", &session::cmd_noop, pre_auth | during_transfer, "NOOP"},
        {"OPTS", &session::cmd_opts, pre_auth | needs_arg, "OPTS UTF8 ON | OPTS MLST facts | OPTS HASH [algorithm]"},
        {"PASS", &session::cmd_pass, 0, "PASS <password>"},
        {"PASV", &session::cmd_pasv, needs_login, "PASV"},
        {"PBSZ", &session::cmd_pbsz, needs_arg, "PBSZ 0"},
        {"PORT", &session::cmd_port, needs_login | needs_arg, "PORT h1,h2,h3,h4,p1,p2"},
        {"PROT", &session::cmd_prot, needs_arg, "PROT C|P"},
        {"PWD", &session::cmd_pwd, needs_login, "PWD"},
        {"QUIT", &session::cmd_quit, pre_auth, "QUIT"},
        {"RANG", &session::cmd_rang, needs_login | needs_arg, "RANG <start> <end> | RANG 1 0"},
        {"REIN", &session::cmd_rein, 0, "REIN"},
        {"REST", &session::cmd_rest, needs_login | needs_arg, "REST <offset>"},
        {"RETR", &session::cmd_retr, needs_login | needs_arg, "RETR <path>"},
        {"RMD", &session::cmd_rmd, needs_login | writes | needs_arg, "RMD <path>"},
        {"RNFR", &session::cmd_rnfr, needs_login | writes | needs_arg, "RNFR <path>"},
        {"RNTO", &session::cmd_rnto, needs_login | writes | needs_arg, "RNTO <path>"},
        {"SITE", &session::cmd_site, needs_arg, "SITE HELP | SITE CHMOD <mode> <path>"},
        {"SIZE", &session::cmd_size, needs_login | needs_arg, "SIZE <path>"},
        {"STAT", &session::cmd_stat, during_transfer, "STAT [path]"},
        {"STOR", &session::cmd_stor, needs_login | writes | needs_arg, "STOR <path>"},
        {"STOU", &session::cmd_stou, needs_login | writes, "STOU"},
        {"STRU", &session::cmd_stru, needs_arg, "STRU F"},
        {"SYST", &session::cmd_syst, pre_auth, "SYST"},
        {"TYPE", &session::cmd_type, needs_arg, "TYPE A|I"},
        {"USER", &session::cmd_user, needs_arg, "USER <name>"},
        {"XCRC", &session::cmd_xcrc, needs_login | needs_arg, "XCRC <path> [<start> <end>]"},
        {"XCUP", &session::cmd_cdup, needs_login, "XCUP"},
        {"XCWD", &session::cmd_cwd, needs_login | needs_arg, "XCWD <path>"},
        {"XMD5", &session::cmd_xmd5, needs_login | needs_arg, "XMD5 <path> [<start> <end>]"},
        {"XMKD", &session::cmd_mkd, needs_login | writes | needs_arg, "XMKD <path>"},
        {"XPWD", &session::cmd_pwd, needs_login, "XPWD"},
        {"XRMD", &session::cmd_rmd, needs_login | writes | needs_arg, "XRMD <path>"},
        {"XSHA1", &session::cmd_xsha1, needs_login | needs_arg, "XSHA1 <path> [<start> <end>]"},
        {"XSHA256", &session::cmd_xsha256, needs_login | needs_arg, "XSHA256 <path> [<start> <end>]"},
        {"XSHA512", &session::cmd_xsha512, needs_login | needs_arg, "XSHA512 <path> [<start> <end>]"},
    };
    return table;
}

const command_entry* find_command(std::string_view verb) {
    for (const auto& e : commands())
        if (e.verb == verb) return &e;
    return nullptr;
}

}  // namespace ferry::server
