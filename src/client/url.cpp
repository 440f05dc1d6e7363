#include "client/url.hpp"

#include <cctype>

namespace ferry::client {

namespace {

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool has_control(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return true;
    return false;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) return false;
        int h = hex(in[i + 1]), l = hex(in[i + 2]);
        if (h < 0 || l < 0) return false;
        out += static_cast<char>(h * 16 + l);
        i += 2;
    }
    return true;
}

std::string ftp_url::host_port() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return h + ":" + std::to_string(port);
}

std::string ftp_url::display() const {
    std::string out = implicit_tls ? "ftps://" : "ftp://";
    if (has_user) out += user + "@";
    out += host_port() + "/" + path;
    return out;
}

std::optional<ftp_url> parse_url(std::string_view text, bool bare_host_ok, std::string& error) {
    ftp_url u;
    std::string_view rest = text;
    auto scheme_end = rest.find("://");
    if (scheme_end != std::string_view::npos) {
        std::string scheme = lower(rest.substr(0, scheme_end));
        if (scheme == "ftp") {
            u.implicit_tls = false;
        } else if (scheme == "ftps") {
            u.implicit_tls = true;
        } else {
            error = "'" + std::string(text) + "': only ftp:// (explicit TLS) and ftps:// (implicit TLS) URLs are supported";
            return std::nullopt;
        }
        rest.remove_prefix(scheme_end + 3);
    } else if (!bare_host_ok) {
        error = "'" + std::string(text) + "' is not a URL: write ftp://host/path (explicit TLS) or ftps://host/path (implicit TLS)";
        return std::nullopt;
    }
    u.port = u.implicit_tls ? 990 : 21;

    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        auto colon = userinfo.find(':');
        std::string_view user = userinfo.substr(0, colon);
        if (!percent_decode(user, u.user)) {
            error = "bad %-escape in the user name of the URL";
            return std::nullopt;
        }
        u.has_user = true;
        if (colon != std::string_view::npos) {
            if (!percent_decode(userinfo.substr(colon + 1), u.password)) {
                error = "bad %-escape in the password of the URL";
                return std::nullopt;
            }
            u.has_password = true;
        }
        if (has_control(u.user) || has_control(u.password)) {
            error = "the URL's user name or password holds control characters (CR, LF, ...)";
            return std::nullopt;
        }
    }

    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) {
            error = "'" + std::string(text) + "': missing ']' after the IPv6 address";
            return std::nullopt;
        }
        u.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                error = "'" + std::string(text) + "': unexpected text after the IPv6 address";
                return std::nullopt;
            }
            port_text = after.substr(1);
        }
    } else {
        auto colon = authority.rfind(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (u.host.empty()) {
        error = "'" + std::string(text) + "': no host name";
        return std::nullopt;
    }
    for (unsigned char c : u.host) {
        if (!(std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '%')) {
            error = "'" + u.host + "' is not a valid host name";
            return std::nullopt;
        }
    }
    if (!port_text.empty()) {
        unsigned long p = 0;
        for (char c : port_text) {
            if (c < '0' || c > '9' || p > 65535) {
                p = 70000;
                break;
            }
            p = p * 10 + static_cast<unsigned long>(c - '0');
        }
        if (p == 0 || p > 65535) {
            error = "'" + std::string(port_text) + "' is not a port number (1-65535)";
            return std::nullopt;
        }
        u.port = static_cast<std::uint16_t>(p);
    }

    // ";type=a" / ";type=i" (RFC 1738)
    if (auto semi = path.rfind(";type="); semi != std::string_view::npos && semi + 7 == path.size()) {
        char t = static_cast<char>(std::toupper(static_cast<unsigned char>(path.back())));
        if (t != 'A' && t != 'I' && t != 'D') {
            error = "';type=" + std::string(1, path.back()) + "': the URL type must be a (ASCII) or i (binary)";
            return std::nullopt;
        }
        u.type = t == 'D' ? 0 : t;
        path = path.substr(0, semi);
    }
    if (!percent_decode(path, u.path)) {
        error = "bad %-escape in the URL path";
        return std::nullopt;
    }
    if (has_control(u.path)) {
        error = "the URL path holds control characters (CR, LF, ...)";
        return std::nullopt;
    }
    u.names_directory = u.path.empty() || u.path.back() == '/';
    return u;
}

}  // namespace ferry::client
