#include "client/mirror.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <set>
#include <utility>

#include "proto/printable.hpp"

namespace ferry::client {

std::optional<mirror_request> parse_mirror_words(const std::vector<std::string>& words, std::string& error) {
    mirror_request r;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        auto value = [&](const char* opt) -> const std::string* {
            if (i + 1 >= words.size()) {
                error = std::string(opt) + " needs a value";
                return nullptr;
            }
            return &words[++i];
        };
        if (w == "-R" || w == "--reverse") r.upload = true;
        else if (w == "--delete") r.plan.delete_extra = true;
        else if (w == "--dry-run" || w == "-n") r.dry_run = true;
        else if (w == "--verify") r.verify = true;
        else if (w == "--checksum" || w == "-c") r.plan.checksum = true;
        else if (w == "--exclude" || w == "--include") {
            const std::string* v = value(w.c_str());
            if (!v) return std::nullopt;
            (w == "--exclude" ? r.plan.exclude : r.plan.include).push_back(*v);
        } else if (w == "-P" || w == "--parallel") {
            const std::string* v = value(w.c_str());
            if (!v) return std::nullopt;
            char* end = nullptr;
            long n = std::strtol(v->c_str(), &end, 10);
            if (v->empty() || *end || n < 1 || n > 16) {
                error = "-P takes a number of sessions from 1 to 16, not '" + *v + "'";
                return std::nullopt;
            }
            r.parallel = static_cast<unsigned>(n);
        } else if (w.size() > 1 && w[0] == '-') {
            error = "unknown option " + w;
            return std::nullopt;
        } else {
            names.push_back(w);
        }
    }
    if (names.size() != 2) {
        error = "give the source and destination folders";
        return std::nullopt;
    }
    r.local_root = r.upload ? names[0] : names[1];
    r.remote_root = r.upload ? names[1] : names[0];
    return r;
}

namespace {

bool inside(const std::string& path, const std::string& root) {
    return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                            (root == "/" || path[root.size()] == '/'));
}

std::string real(const std::string& p) {
    char buf[PATH_MAX];
    return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

struct walker {
    std::string root_real;
    bool follow;
    std::vector<std::string>& warnings;
    std::vector<tree_entry> out;
    std::set<std::pair<dev_t, ino_t>> seen;

    void walk(const std::string& abs, const std::string& rel) {
        DIR* d = ::opendir(abs.c_str());
        if (!d) {
            warnings.push_back("cannot read the folder " + (rel.empty() ? abs : rel));
            return;
        }
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n == "." || n == "..") continue;
            names.push_back(std::move(n));
        }
        ::closedir(d);
        for (const auto& n : names) {
            std::string child_rel = rel.empty() ? n : rel + "/" + n;
            if (!safe_name(n)) {
                warnings.push_back("skipped the local name '" + proto::printable(child_rel) + "'");
                continue;
            }
            std::string child = abs + "/" + n;
            struct stat st;
            if (::lstat(child.c_str(), &st) != 0) continue;  // gone meanwhile
            if (S_ISLNK(st.st_mode)) {
                std::string target = follow ? real(child) : std::string();
                if (target.empty() || !inside(target, root_real) || ::stat(child.c_str(), &st) != 0) {
                    // Reported as a link: the plan skips it with a note.
                    out.push_back({child_rel, tree_type::symlink, 0, 0});
                    continue;
                }
            }
            if (S_ISDIR(st.st_mode)) {
                if (!seen.insert({st.st_dev, st.st_ino}).second) {
                    warnings.push_back("skipped " + child_rel + ": a link to a folder already walked");
                    continue;
                }
                out.push_back({child_rel, tree_type::dir, 0, st.st_mtim.tv_sec});
                walk(child, child_rel);
            } else if (S_ISREG(st.st_mode)) {
                out.push_back({child_rel, tree_type::file, static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec});
            }
            // devices, sockets, FIFOs: not mirrored
        }
    }
};

}  // namespace

std::vector<tree_entry> walk_local(const std::string& root, bool follow_inside, std::vector<std::string>& warnings) {
    walker w{real(root), follow_inside, warnings, {}, {}};
    struct stat st;
    if (w.root_real.empty() || ::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    w.seen.insert({st.st_dev, st.st_ino});
    w.walk(root, "");
    return std::move(w.out);
}

std::optional<std::string> parse_hash_reply(int code, std::string_view text, std::uint64_t size) {
    if (code != 213) return std::nullopt;
    auto word = [&text]() {
        while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
        auto sp = text.find(' ');
        std::string_view w = text.substr(0, sp);
        text.remove_prefix(sp == std::string_view::npos ? text.size() : sp);
        return w;
    };
    std::string algo;
    for (char c : word()) algo += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (algo != "SHA-256") return std::nullopt;
    // The draft's range is inclusive (0-<size-1>); some servers name the end (0-<size>).
    std::string_view range = word();
    if (range != "0-" + std::to_string(size) && !(size > 0 && range == "0-" + std::to_string(size - 1)))
        return std::nullopt;
    std::string hex;
    for (char c : word()) hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (hex.size() != 64) return std::nullopt;
    for (char c : hex)
        if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    return hex;
}

}  // namespace ferry::client
