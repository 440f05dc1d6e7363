// ferry: the Ferry FTPS client. One-shot (get/put/ls/probe), batch and interactive modes.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "app.hpp"
#include "config/schema.hpp"
#include "terminal.hpp"

using namespace ferry;

int main(int argc, char** argv) {
    // OpenSSL writes to sockets with write(2): a peer that closed must give EPIPE, not kill us.
    std::signal(SIGPIPE, SIG_IGN);

    CLI::App app{
        "ferry: a client for FTPS servers (FTP over TLS).\n\n"
        "  ferry get URL [LOCAL]        download a file (LOCAL '-' = standard output; --segments N)\n"
        "  ferry put LOCAL URL          upload a file (URL ending in / keeps the local name)\n"
        "  ferry ls URL                 list a folder\n"
        "  ferry mirror URL LOCALDIR    make LOCALDIR a copy of a remote folder (-R LOCALDIR URL: upload)\n"
        "  ferry probe URL              find which data connection method gets through the firewalls\n"
        "  ferry [URL]                  interactive at a terminal; otherwise commands from standard input\n"
        "  ferry -b FILE [URL]          commands from FILE (batch; stops at the first failure)\n\n"
        "URLs: ftp://[user[:password]@]host[:port]/path uses explicit TLS (AUTH TLS), required unless\n"
        "--allow-plain; ftps:// uses implicit TLS (port 990). Paths are relative to the login folder;\n"
        "ftp://host//abs/path is absolute. Passwords come from the URL, --password-file, ~/.netrc, or a prompt.\n"
        "Exit status: 0 done, 1 a command failed, 2 usage or configuration error, 3 no session (connect,\n"
        "TLS, certificate or login failed)."};
    app.set_version_flag("--version", "ferry 0.1.0");
    app.fallthrough();  // global options may also follow the subcommand
    app.require_subcommand(0, 1);

    cli::options o;
    bool help_config = false;
    app.add_flag("-v,--verbose", o.verbose, "Show the control dialogue (>>> commands, <<< replies; PASS hidden)");
    app.add_option("--config", o.config_file,
                   "Client statements file (default ~/.config/ferry/ferry.conf when it exists); see --help-config");
    app.add_option("--set", o.sets, "Apply one client statement, e.g. --set 'EPSV4 TRUE' (repeatable)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_flag("--help-config", help_config, "List the client statements (config file, --set, locsite) and exit");
    app.add_option("--ca", o.ca, "Trust the CA certificates in this PEM file instead of the system store");
    app.add_option("--fingerprint", o.fingerprint, "Accept exactly the server certificate with this SHA256:... fingerprint");
    app.add_flag("--insecure", o.insecure,
                 "Do NOT verify the server certificate (anyone in between can read and change the session)");
    app.add_option("--cert", o.cert, "Client certificate chain (PEM) for servers that ask for one");
    app.add_option("--key", o.key, "Private key of --cert (PEM), when not in the --cert file");
    app.add_flag("--passive", o.passive, "Passive data connections, PASV/EPSV (FWFRIENDLY TRUE; the default)");
    app.add_flag("--active", o.active, "Active data connections, PORT/EPRT (FWFRIENDLY FALSE)");
    app.add_flag("--epsv", o.epsv, "Use EPSV/EPRT over IPv4 too (EPSV4 TRUE)");
    app.add_flag("--ignore-pasv-addr", o.ignore_pasv, "Connect to the server's address, not the PASV reply's (PASSIVEIGNOREADDR TRUE)");
    app.add_flag("--ccc", o.ccc, "Send CCC after login: control connection in clear, data still protected (TLSRFCLEVEL RFC4217 unless set)");
    app.add_flag("--allow-plain", o.allow_plain,
                 "Continue without TLS when the server refuses AUTH TLS (password and data in clear)");
    app.add_option("--prot", o.prot, "Data protection: P private (default) or C clear");
    app.add_option("--tls-min", o.tls_min, "Lowest TLS version: 1.2 (default) or 1.3");
    app.add_option("--tls-max", o.tls_max, "Highest TLS version: 1.2, 1.3 or any (default)");
    app.add_option("-u,--user", o.user, "User name (when not in the URL)");
    app.add_option("--password-file", o.password_file, "Read the password from the first line of this file");
    app.add_option("--netrc-file", o.netrc_file, "Read credentials from this file instead of ~/.netrc");
    app.add_flag("--no-netrc", o.no_netrc, "Do not read ~/.netrc");
    app.add_option("--timeout", o.timeout, "Seconds for connecting, each reply, and data stalls (MYOPENTIME, INACTTIME, DATACTTIME)")
        ->check(CLI::Range(1, 86400));
    app.add_option("--keepalive", o.keepalive, "FTPKEEPALIVE seconds: TCP keepalive and NOOP during transfers (0 = off)")
        ->check(CLI::Range(0, 86400));
    app.add_flag("-a,--ascii", o.ascii, "Transfer in ASCII mode (TYPE A: line ends converted)");
    app.add_flag("--no-progress", o.no_progress, "No progress bar even on a terminal");
    app.add_option("-b,--batch", o.batch_file, "Run the commands in this file (one per line; # comments)");
    app.add_flag("--continue", o.keep_going, "Batch: go on after a failed command (the exit status still reports it)");

    std::string url;
    app.add_option("URL", url, "Server to open for interactive or batch mode");

    std::string get_url, get_local;
    bool get_resume = false;
    auto* get = app.add_subcommand("get", "Download the file named by URL to LOCAL (default: its name here)");
    get->add_option("URL", get_url, "ftp:// or ftps:// URL of the file")->required();
    get->add_option("LOCAL", get_local, "Local file or folder; '-' writes to standard output");
    get->add_flag("-c,--resume", get_resume, "Resume a partial download (LOCAL.ferry-part or LOCAL) with REST");
    unsigned get_segments = 1;
    get->add_option("--segments", get_segments,
                    "Fetch N byte ranges at once over N sessions (RANG), for long fat links; one stream where the "
                    "server lacks RANG")
        ->check(CLI::Range(1u, client::max_segments));
    bool get_verify = false;
    get->add_flag("--verify", get_verify,
                  "Compare the file's SHA-256 with the server's (HASH) before keeping it; a difference fails");

    std::string put_local, put_url;
    bool put_resume = false;
    auto* put = app.add_subcommand("put", "Upload LOCAL to URL (a URL ending in / keeps the local name)");
    put->add_option("LOCAL", put_local, "Local file; '-' reads standard input")->required();
    put->add_option("URL", put_url, "ftp:// or ftps:// URL of the remote file or folder")->required();
    put->add_flag("-c,--resume", put_resume, "Resume an upload: append what the server lacks (SIZE + APPE)");

    std::string ls_url;
    bool ls_long = false, ls_raw = false;
    auto* ls = app.add_subcommand("ls", "List the folder named by URL (names; -l for type, size, time)");
    ls->add_option("URL", ls_url, "ftp:// or ftps:// URL of the folder")->required();
    ls->add_flag("-l,--long", ls_long, "Long format: type and permissions, size, UTC time, name");
    ls->add_flag("--raw", ls_raw, "The server's own LIST output");

    std::string probe_url;
    auto* probe = app.add_subcommand("probe", "Try EPSV, PASV, PASV ignoring its address, EPRT, PORT and CCC; print what works");
    probe->add_option("URL", probe_url, "ftp:// or ftps:// URL (its folder is listed with each method)")->required();

    client::mirror_request mr;
    std::string mirror_from, mirror_to;
    auto* mirror = app.add_subcommand("mirror", "Make LOCALDIR a copy of the remote folder URL (-R: URL a copy of LOCALDIR)");
    mirror->add_flag("-R,--reverse", mr.upload, "Upload: ferry mirror -R LOCALDIR URL");
    mirror->add_flag("--delete", mr.plan.delete_extra, "Remove files and folders the source does not have");
    mirror->add_flag("-n,--dry-run", mr.dry_run, "Print what would be done; change nothing");
    mirror->add_flag("--verify", mr.verify, "Compare each file's SHA-256 with the server's (HASH) after the transfer");
    mirror->add_flag("-c,--checksum", mr.plan.checksum, "Same size, other time: compare SHA-256 (HASH) instead of transferring");
    mirror->add_option("--exclude", mr.plan.exclude, "Leave out paths or names matching GLOB (repeatable)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    mirror->add_option("--include", mr.plan.include, "Only files matching GLOB (repeatable)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    mirror->add_option("-P,--parallel", mr.parallel, "Transfers at once, each over its own session (1-16)")
        ->check(CLI::Range(1, 16));
    mirror->add_option("FROM", mirror_from, "URL of the remote folder (LOCALDIR with -R)")->required();
    mirror->add_option("TO", mirror_to, "Local folder (URL with -R)")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; a bad command line is a usage error (exit status 2).
        int rc = app.exit(e);
        return rc == 0 ? cli::exit_ok : cli::exit_usage;
    }

    if (help_config) {
        fmt::print("{}", config::describe(config::side::client));
        return cli::exit_ok;
    }
    if (o.passive && o.active) {
        fmt::print(stderr, "ferry: --passive and --active contradict each other\n");
        return cli::exit_usage;
    }
    cli::app a(o);
    std::string error;
    if (!a.configure(error)) {
        fmt::print(stderr, "ferry: {}\n", error);
        return cli::exit_usage;
    }
    if (get->parsed()) return a.get(get_url, get_local, get_resume, get_segments, get_verify);
    if (put->parsed()) return a.put(put_local, put_url, put_resume);
    if (ls->parsed()) return a.ls(ls_url, ls_long, ls_raw);
    if (probe->parsed()) return a.probe(probe_url);
    if (mirror->parsed()) {
        mr.local_root = mr.upload ? mirror_from : mirror_to;
        mr.remote_root = mr.upload ? mirror_to : mirror_from;
        return a.mirror(mr);
    }
    if (url.empty() && o.batch_file.empty() && !cli::stdin_is_tty()) {
        // Batch from standard input without a URL is fine: the job may 'open' itself.
    }
    return a.session_mode(url);
}
