#include "client/known_servers.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ferry::client {

namespace {
bool ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
    return true;
}
}  // namespace

std::string known_servers::default_path() {
    if (const char* p = std::getenv("FERRY_KNOWN_SERVERS"); p && *p) return p;
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/ferry/known_servers";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.config/ferry/known_servers";
    return {};
}

void known_servers::parse(std::string_view text) {
    entries_.clear();
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string hp, fp;
        if (!(ls >> hp) || hp[0] == '#' || !(ls >> fp)) continue;
        entries_.push_back({hp, fp});
    }
}

bool known_servers::load(const std::string& path, std::string& error) {
    std::ifstream in(path);
    if (!in) {
        entries_.clear();
        return true;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    parse(ss.str());
    return true;
}

known_status known_servers::lookup(std::string_view host_port, std::string_view fingerprint) const {
    std::string rec = recorded(host_port);
    if (rec.empty()) return known_status::unknown;
    return ieq(rec, fingerprint) ? known_status::match : known_status::mismatch;
}

std::string known_servers::recorded(std::string_view host_port) const {
    for (const auto& e : entries_)
        if (ieq(e.host_port, host_port)) return e.fingerprint;
    return {};
}

bool known_servers::remember(const std::string& path, std::string_view host_port, std::string_view fingerprint,
                             std::string& error) {
    if (path.empty()) {
        error = "no place for the known servers file (HOME is not set)";
        return false;
    }
    bool replaced = false;
    for (auto& e : entries_) {
        if (ieq(e.host_port, host_port)) {
            e.fingerprint = std::string(fingerprint);
            replaced = true;
        }
    }
    if (!replaced) entries_.push_back({std::string(host_port), std::string(fingerprint)});
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    std::string text = "# ferry: server certificates accepted at the prompt (host:port SHA-256 fingerprint)\n";
    for (const auto& e : entries_) text += e.host_port + " " + e.fingerprint + "\n";
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = tmp + ": " + std::strerror(errno);
        return false;
    }
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ok = ::close(fd) == 0 && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        error = path + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    return true;
}

}  // namespace ferry::client
