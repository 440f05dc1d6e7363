#pragma once
// Which address a passive data connection goes to. Pure (numeric address text in, decision out).
#include <string>
#include <string_view>

namespace ferry::client {

enum class address_scope { unspecified, loopback, link_local, private_, public_, invalid };
// 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT) and fc00::/7 are private.
address_scope classify_address(std::string_view numeric);

struct pasv_target {
    std::string host;     // where to connect
    bool replaced = false;  // the reply's address was not used
    std::string warning;  // non-empty: tell the user (once per session is enough)
};

// control_peer: the numeric address of the control connection's peer; reply_host: the address in
// the 227 reply. ignore_addr (PASSIVEIGNOREADDR TRUE) silently uses the control peer.
// SECURITY: a PASV reply naming another host would make the client connect wherever the server
// (or a man in the middle of a cleared control connection) says: a port scan or a data theft
// from inside the client's network. Any address other than the control peer's is replaced by it,
// with a warning that names the likely cause (a server behind NAT that does not know its public
// address).
pasv_target choose_pasv_target(std::string_view control_peer, std::string_view reply_host, bool ignore_addr);

}  // namespace ferry::client
