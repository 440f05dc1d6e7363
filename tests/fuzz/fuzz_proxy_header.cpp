// The PROXY protocol header parser (proto/proxy_header.hpp, issue 15) on arbitrary bytes. It reads
// what a balancer (or anyone who reached a balancer's port) sends first, so besides not crashing:
// - a header is complete only at its last byte, and within the size limit;
// - "need more" is honest: it holds for every shorter prefix, so a reader may consume those bytes;
// - "invalid" is final: more bytes never make a refused start acceptable;
// - a relayed header's addresses are canonical and written back they parse the same.
#include <arpa/inet.h>

#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "proto/proxy_header.hpp"

using ferry::fuzz::show;
using namespace ferry::proto;
using status = proxy_parse::status;

namespace {

void check_canonical(const std::string& a, const std::string_view in) {
    unsigned char raw[16];
    char back[INET6_ADDRSTRLEN];
    const int family = a.find(':') == std::string::npos ? AF_INET : AF_INET6;
    FUZZ_CHECK(::inet_pton(family, a.c_str(), raw) == 1, "address " + show(a) + " from " + show(in));
    FUZZ_CHECK(::inet_ntop(family, raw, back, sizeof back) && a == back, "not canonical: " + show(a));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const proxy_parse r = parse_proxy_header(in);
    switch (r.state) {
        case status::done: {
            const auto& h = r.header;
            FUZZ_CHECK(h.length > 0 && h.length <= in.size() && h.length <= proxy_header_limit,
                       "length " + std::to_string(h.length) + " for " + show(in));
            FUZZ_CHECK(h.version == 1 || h.version == 2, "version for " + show(in));
            // The header alone parses the same; one byte less is not yet a header.
            const auto alone = parse_proxy_header(in.substr(0, h.length));
            FUZZ_CHECK(alone.state == status::done && alone.header.length == h.length &&
                           alone.header.source.address == h.source.address && alone.header.source.port == h.source.port,
                       "header alone differs: " + show(in));
            FUZZ_CHECK(parse_proxy_header(in.substr(0, h.length - 1)).state == status::need_more,
                       "complete before its last byte: " + show(in));
            if (h.what == proxy_header::kind::relayed) {
                check_canonical(h.source.address, in);
                check_canonical(h.destination.address, in);
                if (h.version == 1) {
                    const std::string proto = h.source.address.find(':') == std::string::npos ? "TCP4" : "TCP6";
                    const std::string line = "PROXY " + proto + " " + h.source.address + " " + h.destination.address +
                                             " " + std::to_string(h.source.port) + " " +
                                             std::to_string(h.destination.port) + "\r\n";
                    const auto again = parse_proxy_header(line);
                    FUZZ_CHECK(again.state == status::done && again.header.source.address == h.source.address &&
                                   again.header.destination.port == h.destination.port,
                               "written back " + show(line) + " from " + show(in));
                }
            } else {
                FUZZ_CHECK(h.source.address.empty(), "addresses on the balancer's own connection: " + show(in));
            }
            break;
        }
        case status::need_more:
            FUZZ_CHECK(in.size() < proxy_header_limit, "need more past the limit: " + show(in));
            if (!in.empty())
                FUZZ_CHECK(parse_proxy_header(in.substr(0, in.size() / 2)).state == status::need_more,
                           "a prefix is refused while the whole asks for more: " + show(in));
            break;
        case status::invalid:
            FUZZ_CHECK(!r.error.empty(), "refused without a reason: " + show(in));
            FUZZ_CHECK(parse_proxy_header(std::string(in) + "\r\n").state == status::invalid,
                       "more bytes made a refused start acceptable: " + show(in));
            break;
    }
    return 0;
}
