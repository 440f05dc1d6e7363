#include "server/startup.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

namespace ferry::server {

namespace fs = std::filesystem;

namespace {

std::string octal(unsigned mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
    return buf;
}
}  // namespace

std::optional<std::string> check_trusted_file(const std::string& path, const std::string& what, bool must_be_ours) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;  // reading it reports the error
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return what + " " + path + " can be changed by other users (mode " + octal(st.st_mode) +
               "); refusing it: chmod go-w " + path;
    if (must_be_ours && st.st_uid != ::geteuid() && st.st_uid != 0)
        return what + " " + path + " belongs to uid " + std::to_string(st.st_uid) + ", not to ferryd (uid " +
               std::to_string(::geteuid()) + "); refusing it";
    return std::nullopt;
}

std::optional<std::string> make_private_dir(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        fs::create_directories(fs::path(path).parent_path(), ec);
        if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
            return "cannot create the state folder " + path + ": " + std::strerror(errno);
    }
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return "the state folder " + path + " is not a folder";
    if (st.st_uid != ::geteuid())
        return "the state folder " + path + " belongs to uid " + std::to_string(st.st_uid) + ", not to us; refusing it";
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        return "the state folder " + path + " can be changed by other users (mode " + octal(st.st_mode) +
               "); refusing it: chmod 700 " + path;
    return std::nullopt;
}

std::vector<std::string> insecure_settings(const config::server_settings& s) {
    using config::secure_dataconn;
    std::vector<std::string> out;
    if (!s.tls_configured())
        out.push_back("no KEYRING: logins, passwords and data travel in clear");
    else if (s.secure == config::secure_ftp::allowed && s.login == config::secure_login::no_client_auth)
        out.push_back("SECURE_FTP ALLOWED: clients may log in without TLS (their passwords travel in clear)");
    if (s.tls_configured() && s.dataconn != secure_dataconn::private_)
        out.push_back(std::string("SECURE_DATACONN ") + (s.dataconn == secure_dataconn::never ? "NEVER" : "CLEAR") +
                      ": file data may travel in clear");
    if (s.tls_configured() && !s.session_reuse_required)
        out.push_back("SECURE_SESSION_REUSE ALLOWED: a protected data connection need not resume the control "
                      "session (data-connection stealing from the client's own address stays possible)");
    if (s.passive_dataconn == config::redirect_policy::redirect)
        out.push_back("PASSIVEDATACONN REDIRECT: any host may take a passive data connection");
    if (s.port_ipaddr == config::redirect_policy::redirect)
        out.push_back("PORTCOMMANDIPADDR UNRESTRICTED: clients may make ferryd connect to third hosts (FTP bounce)");
    if (s.tls_configured() && s.tls_min < config::tls_protocol::v1_2)
        out.push_back("TLSMINVERSION below TLSV1.2: TLS 1.0 and 1.1 are accepted");
    if (!s.upload_close_notify_required)
        out.push_back("UPLOADCLOSENOTIFY OPTIONAL: a forged FIN can cut a PROT P upload short");
    if (!s.sandbox)
        out.push_back("SANDBOX OFF: the serving process is not confined (no Landlock, no seccomp)");
    for (const auto& cidr : s.proxy_from)
        if (cidr.ends_with("/0"))
            out.push_back("PROXYPROTOCOL FROM " + cidr + ": any host may claim to connect for any client address");
    return out;
}

void resolve_relative_names(config::server_settings& s, const std::string& config_file) {
    const fs::path base = fs::absolute(config_file).parent_path();
    auto rel = [&](std::string& p) {
        if (!p.empty() && fs::path(p).is_relative()) p = (base / p).string();
    };
    for (std::string* p : {&s.users, &s.keyring, &s.cafile, &s.certmap, &s.crlfile, &s.ticket_key_file}) rel(*p);
    for (std::string* p : {&s.xferlog, &s.jsonlog})
        if (*p != "-") rel(*p);
}

confinement_paths paths_after_start(const config::server_settings& s, const std::vector<std::string>& homes,
                                    const std::string& config_file) {
    confinement_paths out;
    auto add = [](std::vector<std::string>& to, const fs::path& p) {
        std::error_code ec;
        if (!fs::exists(p, ec)) return;
        for (const auto& have : to)
            if (have == p.string()) return;
        to.push_back(p.string());
    };
    for (const auto& h : homes) add(out.read_write, h);
    // The log files' folders: SIGHUP creates the files anew there after logrotate moved them away.
    for (const std::string* log : {&s.xferlog, &s.jsonlog})
        if (!log->empty() && *log != "-") add(out.read_write, fs::absolute(*log).parent_path());
    if (!s.system_users.value.empty()) add(out.read_write, s.system_homes);
    auto folder_of = [&](const fs::path& file) {
        fs::path dir = file.parent_path();
        if (dir == "/" || dir == "/etc") return add(out.read_only, file);
        add(out.read_only, dir);
    };
    // The TLS files, and what else SIGHUP re-reads: the configuration, USERS and CERTMAP.
    for (const std::string* f :
         {&s.keyring, &s.cafile, &s.crlfile, &s.users, &s.certmap, &s.ticket_key_file, &config_file}) {
        if (f->empty()) continue;
        fs::path p = fs::absolute(*f);
        folder_of(p);
        std::error_code ec;
        fs::path target = fs::canonical(p, ec);  // a symbolic link (certbot's live/ folder)
        if (!ec && target != p) folder_of(target);
    }
    for (const char* f : {"/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
                          "/etc/localtime", "/dev/null", "/usr/lib"}) {
        std::error_code ec;
        fs::path target = fs::canonical(f, ec);
        add(out.read_only, f);
        if (!ec && target != f) add(out.read_only, target);
    }
    return out;
}

}  // namespace ferry::server
