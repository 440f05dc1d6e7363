#pragma once

namespace ferry::config {

// TLSRFCLEVEL (both sides): DRAFT refuses CCC (and, on the server, AUTH after login); RFC4217
// exchanges close_notify on CCC and ends TLS on REIN; CCCNONOTIFY drops TLS without any alert.
enum class tls_rfc_level { draft, rfc4217, cccnonotify };

}  // namespace ferry::config
