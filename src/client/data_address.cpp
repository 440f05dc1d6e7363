#include "client/data_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace ferry::client {

namespace {

// "::ffff:a.b.c.d" -> "a.b.c.d"
std::string unmap(std::string_view s) {
    std::string t(s);
    if (t.size() > 7 && (t.compare(0, 7, "::ffff:") == 0 || t.compare(0, 7, "::FFFF:") == 0) &&
        t.find('.') != std::string::npos)
        return t.substr(7);
    return t;
}

bool same_address(std::string_view a, std::string_view b) {
    std::string x = unmap(a), y = unmap(b);
    unsigned char bx[16], by[16];
    if (inet_pton(AF_INET, x.c_str(), bx) == 1 && inet_pton(AF_INET, y.c_str(), by) == 1) return std::memcmp(bx, by, 4) == 0;
    if (inet_pton(AF_INET6, x.c_str(), bx) == 1 && inet_pton(AF_INET6, y.c_str(), by) == 1) return std::memcmp(bx, by, 16) == 0;
    return false;
}

const char* scope_name(address_scope s) {
    switch (s) {
        case address_scope::unspecified: return "an unspecified";
        case address_scope::loopback: return "a loopback";
        case address_scope::link_local: return "a link-local";
        case address_scope::private_: return "a private";
        case address_scope::public_: return "a public";
        case address_scope::invalid: return "an invalid";
    }
    return "an";
}

}  // namespace

address_scope classify_address(std::string_view numeric) {
    std::string s = unmap(numeric);
    unsigned char b[16];
    if (inet_pton(AF_INET, s.c_str(), b) == 1) {
        if (b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0) return address_scope::unspecified;
        if (b[0] == 127) return address_scope::loopback;
        if (b[0] == 169 && b[1] == 254) return address_scope::link_local;
        if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
            (b[0] == 100 && (b[1] & 0xc0) == 64))
            return address_scope::private_;
        return address_scope::public_;
    }
    if (inet_pton(AF_INET6, s.c_str(), b) == 1) {
        static const unsigned char zero[16] = {};
        if (std::memcmp(b, zero, 16) == 0) return address_scope::unspecified;
        if (std::memcmp(b, zero, 15) == 0 && b[15] == 1) return address_scope::loopback;
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return address_scope::link_local;
        if ((b[0] & 0xfe) == 0xfc) return address_scope::private_;
        return address_scope::public_;
    }
    return address_scope::invalid;
}

pasv_target choose_pasv_target(std::string_view control_peer, std::string_view reply_host, bool ignore_addr) {
    pasv_target t;
    std::string peer = unmap(control_peer);
    if (ignore_addr) {
        t.host = peer;
        t.replaced = !same_address(peer, reply_host);
        return t;
    }
    if (same_address(peer, reply_host)) {
        t.host = unmap(reply_host);
        return t;
    }
    t.host = peer;
    t.replaced = true;
    address_scope rs = classify_address(reply_host), ps = classify_address(peer);
    std::string shown(reply_host);
    if (rs == address_scope::unspecified || rs == address_scope::invalid) {
        t.warning = "the server's PASV reply names " + std::string(scope_name(rs)) + " address (" + shown +
                    "); connecting to the server's address " + peer + " instead";
    } else if (rs != address_scope::public_ && ps == address_scope::public_) {
        t.warning = "the server's PASV reply names " + std::string(scope_name(rs)) + " address (" + shown +
                    ") although the server is at the public address " + peer +
                    ": it is probably behind NAT and does not know its public address (server side: "
                    "PASSIVEADDRESS). Connecting to " + peer + " instead; EPSV4 TRUE or PASSIVEIGNOREADDR "
                    "TRUE avoid this warning";
    } else {
        t.warning = "the server's PASV reply names " + shown + ", not the server's own address " + peer +
                    "; connecting to " + peer + " instead (EPSV4 TRUE or PASSIVEIGNOREADDR TRUE avoid this warning)";
    }
    return t;
}

}  // namespace ferry::client
