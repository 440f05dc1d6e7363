// METRICS: the exposition (format_metrics) and the endpoint's HTTP rules (metrics_request), both
// without sockets. tests/interop/test_metrics.py scrapes a real ferryd.
#include "server/metrics.hpp"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "server/metrics_request.hpp"

using namespace ferry::server;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

bool has_line(const std::string& text, const std::string& line) {
    for (const auto& l : lines_of(text))
        if (l == line) return true;
    return false;
}

std::size_t count_prefix(const std::string& text, const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& l : lines_of(text)) n += l.rfind(prefix, 0) == 0;
    return n;
}

// Text format 0.0.4, as Prometheus reads it: each family a HELP then a TYPE line naming it, its
// samples right after, named exactly like the family (a counter's name ends in _total, so that
// prometheus_client's parser reads it as that counter), no family twice. Returns the types.
std::map<std::string, std::string> check_structure(const std::string& text) {
    static const std::regex help(R"(# HELP ([a-z_]+) \S.*)");
    static const std::regex type(R"(# TYPE ([a-z_]+) (counter|gauge))");
    static const std::regex sample(R"(([a-z_]+)(\{([a-z_]+="[a-z0-9_.]*")(,[a-z_]+="[a-z0-9_.]*")*\})? -?[0-9]+)");
    std::map<std::string, std::string> types;
    std::string family, helped;
    std::size_t samples = 0;
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    for (const auto& line : lines_of(text)) {
        std::smatch m;
        if (std::regex_match(line, m, help)) {
            EXPECT_TRUE(family.empty() || samples > 0) << family << " has no sample";
            helped = m[1];
            family.clear();
            samples = 0;
        } else if (std::regex_match(line, m, type)) {
            EXPECT_EQ(m[1], helped) << "TYPE without its HELP: " << line;
            family = m[1];
            EXPECT_TRUE(types.emplace(family, m[2]).second) << family << " twice";
            if (m[2] == "counter") {
                EXPECT_TRUE(family.ends_with("_total")) << family;
            }
        } else if (std::regex_match(line, m, sample)) {
            EXPECT_EQ(m[1], family) << "sample outside its family: " << line;
            ++samples;
        } else {
            ADD_FAILURE() << "not a 0.0.4 line: " << line;
        }
    }
    EXPECT_GT(samples, 0u) << family << " has no sample";
    return types;
}

}  // namespace

TEST(metrics, names_of_every_enum_value) {
    EXPECT_STREQ(name_of(transfer_direction::download), "download");
    EXPECT_STREQ(name_of(transfer_direction::upload), "upload");
    EXPECT_STREQ(name_of(transfer_direction::listing), "listing");
    EXPECT_STREQ(name_of(data_protection::clear), "clear");
    EXPECT_STREQ(name_of(data_protection::tls), "tls");
    const char* refusals[] = {"bounce", "stealing", "reuse_required", "policy", "tls_failed", "no_port", "timeout"};
    static_assert(std::size(refusals) == count_of_data_refusals);
    for (std::size_t i = 0; i < count_of_data_refusals; ++i)
        EXPECT_STREQ(name_of(static_cast<data_refusal>(i)), refusals[i]);
    const char* logins[] = {"password", "user_options", "certificate", "lockout", "limits", "policy"};
    static_assert(std::size(logins) == count_of_login_refusals);
    for (std::size_t i = 0; i < count_of_login_refusals; ++i)
        EXPECT_STREQ(name_of(static_cast<login_refusal>(i)), logins[i]);
}

TEST(metrics, a_fresh_server_shows_every_series_at_zero) {
    metrics m;
    const std::string text = format_metrics(m);
    const auto types = check_structure(text);
    const std::map<std::string, std::string> expected = {
        {"ferry_build_info", "gauge"},
        {"process_start_time_seconds", "gauge"},
        {"ferry_sessions_open", "gauge"},
        {"ferry_sessions_total", "counter"},
        {"ferry_logins_total", "counter"},
        {"ferry_login_refusals_total", "counter"},
        {"ferry_transfers_total", "counter"},
        {"ferry_transfer_bytes_total", "counter"},
        {"ferry_transfers_incomplete_total", "counter"},
        {"ferry_tls_handshakes_total", "counter"},
        {"ferry_tls_handshake_failures_total", "counter"},
        {"ferry_data_connections_refused_total", "counter"},
        {"ferry_passive_ports_in_use", "gauge"},
        {"ferry_throttled_transfers", "gauge"},
        {"ferry_ccc_total", "counter"},
        {"ferry_connections_refused_total", "counter"},
        {"ferry_file_digests_total", "counter"},
    };
    EXPECT_EQ(types, expected);

    EXPECT_TRUE(has_line(text, "ferry_sessions_open 0"));
    EXPECT_TRUE(has_line(text, "ferry_file_digests_total{source=\"cached\"} 0"));
    EXPECT_TRUE(has_line(text, "ferry_logins_total{result=\"ok\"} 0"));
    EXPECT_TRUE(has_line(text, "ferry_logins_total{result=\"refused\"} 0"));
    // All six direction/protection pairs, also at zero: the dashboard's series exist from the start.
    for (const char* family : {"ferry_transfers_total", "ferry_transfer_bytes_total"}) {
        EXPECT_EQ(count_prefix(text, std::string(family) + "{"), 6u) << family;
        for (const char* d : {"download", "upload", "listing"})
            for (const char* p : {"clear", "tls"})
                EXPECT_TRUE(has_line(text, std::string(family) + "{direction=\"" + d + "\",protection=\"" + p + "\"} 0"))
                    << family << " " << d << " " << p;
    }
    EXPECT_EQ(count_prefix(text, "ferry_data_connections_refused_total{reason="), count_of_data_refusals);
    EXPECT_EQ(count_prefix(text, "ferry_login_refusals_total{reason="), count_of_login_refusals);
    EXPECT_EQ(count_prefix(text, "ferry_tls_handshakes_total{"), 4u);
    for (const char* why : {"descriptors", "lockout", "limits"})
        EXPECT_TRUE(has_line(text, std::string("ferry_connections_refused_total{reason=\"") + why + "\"} 0")) << why;
    EXPECT_TRUE(std::regex_search(text, std::regex("\nferry_build_info\\{version=\"[0-9]+\\.[0-9]+\\.[0-9]+\"\\} 1\n")))
        << text;
    EXPECT_TRUE(has_line(text, "process_start_time_seconds " + std::to_string(m.start_time_seconds)));
    EXPECT_GT(m.start_time_seconds, 1'600'000'000);
}

TEST(metrics, a_filled_server_shows_its_counts_under_their_labels) {
    metrics m;
    metrics::add(m.sessions_open, 3);
    metrics::add(m.sessions_total, 41);
    metrics::add(m.logins_ok, 7);
    metrics::add(m.logins_refused[static_cast<std::size_t>(login_refusal::password)], 4);
    metrics::add(m.logins_refused[static_cast<std::size_t>(login_refusal::lockout)], 1);
    const auto up = static_cast<std::size_t>(transfer_direction::upload);
    const auto tls = static_cast<std::size_t>(data_protection::tls);
    metrics::add(m.transfers[up][tls], 2);
    metrics::add(m.transfer_bytes[up][tls], 5'368'709'120);  // past 32 bits
    metrics::add(m.transfers_incomplete);
    metrics::add(m.tls_handshakes[static_cast<std::size_t>(tls_link::data)][1], 9);
    metrics::add(m.tls_handshakes_failed, 2);
    metrics::add(m.data_refused[static_cast<std::size_t>(data_refusal::reuse_required)], 5);
    metrics::add(m.throttled_transfers, 2);
    metrics::add(m.throttled_transfers, -1);
    metrics::add(m.ccc_total, 6);
    m.passive_ports_in_use = 12;
    m.start_time_seconds = 1'765'000'000;

    const std::string text = format_metrics(m);
    check_structure(text);
    for (const char* line : {
             "ferry_sessions_open 3",
             "ferry_sessions_total 41",
             "ferry_logins_total{result=\"ok\"} 7",
             "ferry_logins_total{result=\"refused\"} 5",
             "ferry_login_refusals_total{reason=\"password\"} 4",
             "ferry_login_refusals_total{reason=\"lockout\"} 1",
             "ferry_login_refusals_total{reason=\"policy\"} 0",
             "ferry_transfers_total{direction=\"upload\",protection=\"tls\"} 2",
             "ferry_transfers_total{direction=\"upload\",protection=\"clear\"} 0",
             "ferry_transfer_bytes_total{direction=\"upload\",protection=\"tls\"} 5368709120",
             "ferry_transfer_bytes_total{direction=\"download\",protection=\"tls\"} 0",
             "ferry_transfers_incomplete_total 1",
             "ferry_tls_handshakes_total{connection=\"data\",session=\"resumed\"} 9",
             "ferry_tls_handshakes_total{connection=\"data\",session=\"full\"} 0",
             "ferry_tls_handshakes_total{connection=\"control\",session=\"full\"} 0",
             "ferry_tls_handshake_failures_total 2",
             "ferry_data_connections_refused_total{reason=\"reuse_required\"} 5",
             "ferry_data_connections_refused_total{reason=\"bounce\"} 0",
             "ferry_passive_ports_in_use 12",
             "ferry_throttled_transfers 1",
             "ferry_ccc_total 6",
             "process_start_time_seconds 1765000000",
         })
        EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
}

// ---- the endpoint's requests ------------------------------------------------------------------

TEST(metrics_request, get_and_head_of_metrics_are_served) {
    auto r = parse_metrics_request("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9121\r\nAccept: */*\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.head);
    r = parse_metrics_request("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.head);
    // Prometheus' own request: a query string, HTTP/1.1, its Accept list.
    EXPECT_EQ(parse_metrics_request("GET /metrics?name[]=ferry_sessions_open HTTP/1.1\r\nHost: h\r\nAccept: "
                                    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
                                    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n")
                  .status,
              200);
    EXPECT_EQ(parse_metrics_request("GET /metrics HTTP/1.0\r\n\r\n").status, 200);  // no header at all
    EXPECT_EQ(parse_metrics_request("GET /metrics HTTP/1.1\n\n").status, 200);      // bare LF lines
    EXPECT_EQ(parse_metrics_request("GET http://127.0.0.1:9121/metrics HTTP/1.1\r\n\r\n").status, 200);
}

TEST(metrics_request, other_paths_are_404_other_methods_405) {
    EXPECT_EQ(parse_metrics_request("GET /other HTTP/1.1\r\n\r\n").status, 404);
    EXPECT_EQ(parse_metrics_request("GET / HTTP/1.1\r\n\r\n").status, 404);
    EXPECT_EQ(parse_metrics_request("GET /metrics/ HTTP/1.1\r\n\r\n").status, 404);
    EXPECT_EQ(parse_metrics_request("GET /metricsx HTTP/1.1\r\n\r\n").status, 404);
    EXPECT_EQ(parse_metrics_request("GET http://host HTTP/1.1\r\n\r\n").status, 404);
    EXPECT_EQ(parse_metrics_request("OPTIONS * HTTP/1.1\r\n\r\n").status, 404);
    auto head = parse_metrics_request("HEAD /x HTTP/1.1\r\n\r\n");
    EXPECT_EQ(head.status, 404);
    EXPECT_TRUE(head.head);
    EXPECT_EQ(parse_metrics_request("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n").status, 405);
    EXPECT_EQ(parse_metrics_request("DELETE /metrics HTTP/1.1\r\n\r\n").status, 405);
    EXPECT_EQ(parse_metrics_request("get /metrics HTTP/1.1\r\n\r\n").status, 405);  // methods are case-sensitive
}

TEST(metrics_request, malformed_heads_are_400) {
    for (const char* bad : {
             "",                                              // nothing
             "GET /metrics HTTP/1.1\r\n",                     // never ended
             "\r\n\r\n",                                      // no request line
             "GET /metrics\r\n\r\n",                          // HTTP/0.9
             "GET /metrics HTTP/2.0\r\n\r\n",                 // not HTTP/1.x
             "GET  /metrics HTTP/1.1\r\n\r\n",                // two spaces
             "GET /metrics HTTP/1.1 \r\n\r\n",                // trailing space
             "GET /me trics HTTP/1.1\r\n\r\n",                // space in the target
             "G(T /metrics HTTP/1.1\r\n\r\n",                 // not a token
             "GET /metrics HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",   // no colon
             "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n",     // space before the colon
             "GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",  // obsolete line folding
             "GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n",      // bare CR
             "GET /metrics HTTP/1.1\r\nA: \x01\r\n\r\n",      // control character
             "GET /m\x80 HTTP/1.1\r\n\r\n",                   // byte above ASCII in the target
             "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello
         })
        EXPECT_EQ(parse_metrics_request(bad).status, 400) << ::testing::PrintToString(std::string(bad));
    static const char nul[] = "GET /metrics HTTP/1.1\r\nA: \0\r\n\r\n";  // a NUL in a field value
    EXPECT_EQ(parse_metrics_request(std::string_view(nul, sizeof nul - 1)).status, 400);
}

TEST(metrics_request, a_head_past_8_KiB_is_431) {
    const std::string start = "GET /metrics HTTP/1.1\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    std::string fits = start + std::string(max_request_head - start.size() - end.size(), 'a') + end;
    ASSERT_EQ(fits.size(), max_request_head);
    EXPECT_EQ(parse_metrics_request(fits).status, 200);
    std::string over = start + std::string(max_request_head - start.size() - end.size() + 1, 'a') + end;
    EXPECT_EQ(parse_metrics_request(over).status, 431);
    // What the endpoint hands over when 8 KiB + 1 byte came without an end.
    EXPECT_EQ(parse_metrics_request(std::string(max_request_head + 1, 'G')).status, 431);
}

TEST(metrics_request, head_end_is_just_past_the_empty_line) {
    EXPECT_EQ(request_head_end("GET / HTTP/1.1\r\nA: b\r\n\r\nBODY"), 24u);
    EXPECT_EQ(request_head_end("GET / HTTP/1.1\n\nBODY"), 16u);
    EXPECT_EQ(request_head_end("GET / HTTP/1.1\r\nA: b\r\n"), std::string_view::npos);
    EXPECT_EQ(request_head_end(""), std::string_view::npos);
    // A body after the head is not read as header fields.
    EXPECT_EQ(parse_metrics_request("POST /metrics HTTP/1.1\r\n\r\n\x01\x02 junk").status, 405);
}

TEST(metrics_request, responses_say_length_type_and_close) {
    const std::string body = "ferry_sessions_open 1\n";
    EXPECT_EQ(format_metrics_response({200, false}, body),
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 22\r\n"
              "Connection: close\r\n\r\nferry_sessions_open 1\n");
    // HEAD: the length of the body a GET would get, and no body.
    EXPECT_EQ(format_metrics_response({200, true}, body),
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 22\r\n"
              "Connection: close\r\n\r\n");
    const std::string not_found = format_metrics_response({404, false}, body);
    EXPECT_EQ(not_found.rfind("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n", 0), 0u)
        << not_found;
    EXPECT_EQ(not_found.find("ferry_"), std::string::npos) << "an error never carries the metrics";
    const std::string wrong_method = format_metrics_response({405, false}, body);
    EXPECT_NE(wrong_method.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << wrong_method;
    for (int status : {400, 404, 405, 431}) {
        const std::string r = format_metrics_response({status, false}, body);
        EXPECT_EQ(r.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0), 0u) << r;
        const auto end = r.find("\r\n\r\n");
        ASSERT_NE(end, std::string::npos) << r;
        const std::size_t length = r.size() - end - 4;
        EXPECT_GT(length, 0u) << r;
        EXPECT_NE(r.find("\r\nContent-Length: " + std::to_string(length) + "\r\n"), std::string::npos) << r;
        EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos) << r;
    }
}
