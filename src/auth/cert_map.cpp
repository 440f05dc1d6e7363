#include "auth/cert_map.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

namespace ferry::auth {

bool cert_mapping::allows_port(std::uint16_t port) const {
    if (ports.empty()) return true;
    for (auto p : ports)
        if (p == port) return true;
    return false;
}

std::string normalise_fingerprint(std::string_view text) {
    std::string_view t = text;
    if (t.size() > 7 && (t.substr(0, 7) == "SHA256:" || t.substr(0, 7) == "sha256:")) t.remove_prefix(7);
    std::string hex;
    for (char c : t) {
        if (c == ':') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
        hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (hex.size() != 64) return {};
    std::string out = "SHA256:";
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        if (i) out += ':';
        out += hex.substr(i, 2);
    }
    return out;
}

namespace {

// Whitespace-separated tokens; key="quoted value" keeps its spaces.
std::vector<std::string> tokens(std::string_view line) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
        if (i >= line.size() || line[i] == '#') break;
        std::string tok;
        bool quoted = false;
        while (i < line.size() && (quoted || !std::isspace(static_cast<unsigned char>(line[i])))) {
            if (line[i] == '"') quoted = !quoted;
            else tok += line[i];
            ++i;
        }
        out.push_back(tok);
    }
    return out;
}

}  // namespace

bool cert_map::parse(std::string_view text, std::string_view file_name, std::string& error) {
    std::vector<cert_mapping> entries;
    std::istringstream in{std::string(text)};
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        auto where = std::string(file_name) + ":" + std::to_string(n) + ": ";
        auto t = tokens(line);
        if (t.empty()) continue;
        cert_mapping m;
        m.user = t[0];
        if (m.user.empty()) {  // "" as the first word: no account to map the certificate to
            error = where + "the line names no user (an empty \"\" user name)";
            return false;
        }
        for (std::size_t i = 1; i < t.size(); ++i) {
            const std::string& kv = t[i];
            auto eq = kv.find('=');
            std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
            if (key == "sha256") {
                m.fingerprint = normalise_fingerprint(value);
                if (m.fingerprint.empty()) {
                    error = where + "'" + value + "' is not a SHA-256 fingerprint (64 hex digits, colons allowed)";
                    return false;
                }
            } else if (key == "subject" && !value.empty()) {
                m.subject = value;
            } else if (key == "issuer" && !value.empty()) {
                m.issuer = value;
            } else if (key == "ports" && !value.empty()) {
                std::istringstream ps(value);
                std::string p;
                while (std::getline(ps, p, ',')) {
                    char* end = nullptr;
                    unsigned long v = std::strtoul(p.c_str(), &end, 10);
                    if (p.empty() || *end || v == 0 || v > 65535) {
                        error = where + "ports: '" + p + "' is not a port number";
                        return false;
                    }
                    m.ports.push_back(static_cast<std::uint16_t>(v));
                }
            } else {
                error = where + "'" + kv + "' is not sha256=..., subject=\"...\", issuer=\"...\" or ports=...";
                return false;
            }
        }
        if (m.fingerprint.empty() && m.subject.empty()) {
            error = where + "user '" + m.user + "' needs sha256=FINGERPRINT or subject=\"DN\" issuer=\"DN\"";
            return false;
        }
        // SECURITY: a subject is only a name: every CA in CAFILE can sign a certificate with
        // it. The mapping holds only for the CA that vouches for that name.
        if (!m.subject.empty() && m.issuer.empty()) {
            error = where + "user '" + m.user + "': subject=\"" + m.subject +
                    "\" needs issuer=\"DN\" (the CA that signed it; any CA in CAFILE could issue that subject)";
            return false;
        }
        if (m.subject.empty() && !m.issuer.empty()) {
            error = where + "user '" + m.user + "': issuer= goes with subject=\"DN\"";
            return false;
        }
        entries.push_back(std::move(m));
    }
    entries_ = std::move(entries);
    return true;
}

bool cert_map::load(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = path + ": cannot open the certificate map";
        return false;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path, error);
}

const cert_mapping* cert_map::find(std::string_view fingerprint, std::string_view subject,
                                   std::string_view issuer) const {
    std::string fp = normalise_fingerprint(fingerprint);
    for (const auto& e : entries_)
        if (!fp.empty() && e.fingerprint == fp) return &e;
    for (const auto& e : entries_)
        if (!subject.empty() && !e.subject.empty() && e.subject == subject && e.issuer == issuer) return &e;
    return nullptr;
}

}  // namespace ferry::auth
