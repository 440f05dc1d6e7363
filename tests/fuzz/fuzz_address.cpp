// PORT/PASV/EPRT/EPSV codecs (proto/address.hpp) on arbitrary text, with round trips: whatever
// parses, re-formatted and re-parsed, gives the same host_port / port.
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "proto/address.hpp"

using ferry::fuzz::show;
using namespace ferry::proto;

namespace {

bool same(const host_port& a, const host_port& b) {
    return a.host == b.host && a.port == b.port && a.family == b.family;
}

std::string describe(const host_port& h) {
    return "{" + show(h.host) + " port " + std::to_string(h.port) + " family " + std::to_string(h.family) + "}";
}

void check_v4(const host_port& hp, std::string_view in, const char* what) {
    FUZZ_CHECK(hp.family == 1, std::string(what) + " family for " + show(in));
    FUZZ_CHECK(hp.port != 0, std::string(what) + " port 0 for " + show(in));
    FUZZ_CHECK(is_ipv4(hp.host), std::string(what) + " host not IPv4: " + describe(hp));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    if (auto hp = parse_port_arg(in)) {
        check_v4(*hp, in, "PORT");
        auto arg = format_port_arg(*hp);
        FUZZ_CHECK(arg.has_value(), "format_port_arg refused " + describe(*hp));
        auto again = parse_port_arg(*arg);
        FUZZ_CHECK(again && same(*again, *hp), "PORT round trip " + show(in) + " -> " + show(*arg));
        // The PORT argument as a PASV reply parses the same.
        auto pasv = parse_pasv_reply("227 Entering Passive Mode (" + *arg + ").");
        FUZZ_CHECK(pasv && same(*pasv, *hp), "PORT arg in a 227 reply " + show(*arg));
    }

    if (auto hp = parse_pasv_reply(in)) {
        check_v4(*hp, in, "PASV");
        auto text = format_pasv_reply(*hp);
        FUZZ_CHECK(text.has_value(), "format_pasv_reply refused " + describe(*hp));
        auto again = parse_pasv_reply(*text);
        FUZZ_CHECK(again && same(*again, *hp), "PASV round trip " + show(in) + " -> " + show(*text));
    }

    if (auto hp = parse_eprt_arg(in)) {
        FUZZ_CHECK(hp->family == 1 || hp->family == 2, "EPRT family " + describe(*hp));
        FUZZ_CHECK(hp->port != 0, "EPRT port 0 for " + show(in));
        FUZZ_CHECK(hp->family == 1 ? is_ipv4(hp->host) : is_ipv6(hp->host), "EPRT host/family " + describe(*hp));
        const std::string arg = format_eprt_arg(*hp);
        auto again = parse_eprt_arg(arg);
        FUZZ_CHECK(again && same(*again, *hp),
                   "EPRT round trip " + show(in) + " -> " + show(arg) + " -> " + (again ? describe(*again) : "nothing"));
        // An IPv4 EPRT target can also be sent as PORT, and comes back the same.
        if (hp->family == 1) {
            auto port_arg = format_port_arg(*hp);
            FUZZ_CHECK(port_arg.has_value(), "IPv4 EPRT host not formattable as PORT: " + describe(*hp));
            auto p = parse_port_arg(*port_arg);
            FUZZ_CHECK(p && p->port == hp->port && is_ipv4(p->host), "EPRT -> PORT " + show(*port_arg));
        }
    }

    if (auto port = parse_epsv_reply(in)) {
        FUZZ_CHECK(*port != 0, "EPSV port 0 for " + show(in));
        const std::string text = format_epsv_reply(*port);
        auto again = parse_epsv_reply(text);
        FUZZ_CHECK(again && *again == *port, "EPSV round trip " + show(in) + " -> " + show(text));
        auto in_reply = parse_epsv_reply("229 " + text);
        FUZZ_CHECK(in_reply && *in_reply == *port, "EPSV inside a 229 line");
    }

    // unmap_ipv4: a mapped address becomes IPv4; everything else is returned unchanged.
    const std::string u = unmap_ipv4(in);
    if (u != in) {
        FUZZ_CHECK(is_ipv6(in) && is_ipv4(u), "unmap_ipv4 changed " + show(in) + " into " + show(u));
        FUZZ_CHECK(unmap_ipv4(u) == u, "unmap not idempotent " + show(u));
    }
    return 0;
}
