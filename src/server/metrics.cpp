#include "server/metrics.hpp"

#include <initializer_list>
#include <utility>

// CMakeLists.txt passes project()'s version to this file only.
#ifndef FERRY_VERSION
#error "FERRY_VERSION is not defined (set by CMakeLists.txt for src/server/metrics.cpp)"
#endif

namespace ferry::server {

const char* name_of(transfer_direction d) {
    switch (d) {
    case transfer_direction::download: return "download";
    case transfer_direction::upload: return "upload";
    case transfer_direction::listing: return "listing";
    }
    return "unknown";
}

const char* name_of(data_protection p) { return p == data_protection::tls ? "tls" : "clear"; }

const char* name_of(data_refusal r) {
    switch (r) {
    case data_refusal::bounce: return "bounce";
    case data_refusal::stealing: return "stealing";
    case data_refusal::reuse_required: return "reuse_required";
    case data_refusal::policy: return "policy";
    case data_refusal::tls_failed: return "tls_failed";
    case data_refusal::no_port: return "no_port";
    case data_refusal::timeout: return "timeout";
    }
    return "unknown";
}

const char* name_of(login_refusal r) {
    switch (r) {
    case login_refusal::password: return "password";
    case login_refusal::user_options: return "user_options";
    case login_refusal::certificate: return "certificate";
    case login_refusal::lockout: return "lockout";
    case login_refusal::limits: return "limits";
    case login_refusal::policy: return "policy";
    }
    return "unknown";
}

namespace {

class exposition {
public:
    // HELP and TYPE name the family by its full sample name (`x_total` for a counter), as the
    // official clients write it: prometheus_client's parser then reads `x_total` as counter `x`.
    void family(const char* name, const char* type, const char* help) {
        name_ = name;
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    // One sample of the current family; labels as name/value pairs (values need no escaping:
    // they are our own enum names).
    template <class Value>
    void sample(Value v, std::initializer_list<std::pair<const char*, const char*>> labels = {}) {
        out_ += name_;
        if (labels.size() != 0) {
            char sep = '{';
            for (const auto& [k, val] : labels) {
                out_ += sep;
                out_ += k;
                out_ += "=\"";
                out_ += val;
                out_ += '"';
                sep = ',';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += std::to_string(v);
        out_ += '\n';
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
    const char* name_ = "";
};

std::uint64_t read(const metrics::counter& c) { return c.load(std::memory_order_relaxed); }
std::int64_t read(const metrics::gauge& g) { return g.load(std::memory_order_relaxed); }

}  // namespace

std::string format_metrics(const metrics& m) {
    exposition e;
    e.family("ferry_build_info", "gauge", "The ferryd version serving (always 1).");
    e.sample(1, {{"version", FERRY_VERSION}});
    e.family("process_start_time_seconds", "gauge", "When ferryd started, in seconds since the Unix epoch.");
    e.sample(m.start_time_seconds);

    e.family("ferry_sessions_open", "gauge", "FTP sessions (control connections admitted) open now.");
    e.sample(read(m.sessions_open));
    e.family("ferry_sessions_total", "counter",
             "FTP sessions started (a connection refused at once with 421 starts none).");
    e.sample(read(m.sessions_total));

    // Each refusal read once, so that the two families agree within one scrape.
    std::array<std::uint64_t, count_of_login_refusals> refused{};
    std::uint64_t refused_sum = 0;
    for (std::size_t r = 0; r < count_of_login_refusals; ++r) refused_sum += refused[r] = read(m.logins_refused[r]);
    e.family("ferry_logins_total", "counter", "Logins by result (ok or refused).");
    e.sample(read(m.logins_ok), {{"result", "ok"}});
    e.sample(refused_sum, {{"result", "refused"}});
    e.family("ferry_login_refusals_total", "counter",
             "Refused logins by reason; they add up to ferry_logins_total{result=\"refused\"}.");
    for (std::size_t r = 0; r < count_of_login_refusals; ++r)
        e.sample(refused[r], {{"reason", name_of(static_cast<login_refusal>(r))}});

    // Every direction and protection, zeros included: a dashboard's series exist from the start.
    auto per_transfer_kind = [&](const auto& table) {
        for (std::size_t d = 0; d < count_of_directions; ++d)
            for (std::size_t p = 0; p < count_of_protections; ++p)
                e.sample(read(table[d][p]), {{"direction", name_of(static_cast<transfer_direction>(d))},
                                             {"protection", name_of(static_cast<data_protection>(p))}});
    };
    e.family("ferry_transfers_total", "counter",
             "Transfers ended, complete or not, by direction (download, upload, listing) and data protection "
             "(clear, tls).");
    per_transfer_kind(m.transfers);
    e.family("ferry_transfer_bytes_total", "counter",
             "Bytes moved by transfers (complete or not) by direction and data protection.");
    per_transfer_kind(m.transfer_bytes);
    e.family("ferry_transfers_incomplete_total", "counter",
             "Transfers that ended without completing (aborted, failed, cut); also in ferry_transfers_total.");
    e.sample(read(m.transfers_incomplete));

    e.family("ferry_tls_handshakes_total", "counter",
             "Completed TLS handshakes by connection (control, data) and session (full, resumed).");
    for (std::size_t link = 0; link < 2; ++link)
        for (std::size_t resumed = 0; resumed < 2; ++resumed)
            e.sample(read(m.tls_handshakes[link][resumed]),
                     {{"connection", static_cast<tls_link>(link) == tls_link::control ? "control" : "data"},
                      {"session", resumed ? "resumed" : "full"}});
    e.family("ferry_tls_handshake_failures_total", "counter", "TLS handshakes that failed (control and data).");
    e.sample(read(m.tls_handshakes_failed));

    e.family("ferry_data_connections_refused_total", "counter",
             "Data connections (or the commands asking for one) refused, by reason.");
    for (std::size_t r = 0; r < count_of_data_refusals; ++r)
        e.sample(read(m.data_refused[r]), {{"reason", name_of(static_cast<data_refusal>(r))}});

    e.family("ferry_connections_refused_total", "counter",
             "Connections refused before a session started, by reason: descriptors (the reserve kept for running "
             "sessions), lockout (LOGINATTEMPTS), limits (MAXSESSIONS, MAXSESSIONSPERHOST).");
    static const char* const refused_why[] = {"descriptors", "lockout", "limits", "proxy"};
    for (std::size_t r = 0; r < m.connections_refused.size(); ++r)
        e.sample(read(m.connections_refused[r]), {{"reason", refused_why[r]}});

    e.family("ferry_passive_ports_in_use", "gauge", "Passive data listeners (PASV/EPSV) open now.");
    e.sample(read(m.passive_ports_in_use));
    e.family("ferry_throttled_transfers", "gauge",
             "Transfers running now under a rate limit (DOWNLOADRATE, UPLOADRATE or the user's own).");
    e.sample(read(m.throttled_transfers));
    e.family("ferry_ccc_total", "counter", "Control connections cleared with CCC.");
    e.sample(read(m.ccc_total));
    e.family("ferry_file_digests_total", "counter",
             "File digests answered (HASH, XSHA256, XSHA512, XSHA1, XMD5, XCRC) by source: computed (the file "
             "read) or cached (an unchanged file asked about again).");
    e.sample(read(m.file_digests[0]), {{"source", "computed"}});
    e.sample(read(m.file_digests[1]), {{"source", "cached"}});
    return e.take();
}

}  // namespace ferry::server
