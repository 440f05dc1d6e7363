// Lexical virtual paths: no file system access here. Confinement does not depend on this code
// (the kernel enforces it in root.cpp); this only gives clients a tidy, predictable namespace.
#include <string>
#include <string_view>
#include <vector>

#include "vfs/root.hpp"

namespace ferry::vfs {

namespace {

// Appends the components of p to parts, applying "." and ".." lexically.
void push_components(std::string_view p, std::vector<std::string_view>& parts) {
    std::size_t i = 0;
    while (i <= p.size()) {
        std::size_t j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        std::string_view c = p.substr(i, j - i);
        if (c.empty() || c == ".") {
            // "//" and "." add nothing
        } else if (c == "..") {
            // SECURITY: path escape. ".." at the virtual root stays at the root, like chroot.
            if (!parts.empty()) parts.pop_back();
        } else {
            parts.push_back(c);
        }
        i = j + 1;
    }
}

}  // namespace

std::string resolve(std::string_view cwd, std::string_view client_path) {
    std::vector<std::string_view> parts;
    // Absolute client paths start from the virtual root, not from the host's "/".
    if (client_path.empty() || client_path.front() != '/') push_components(cwd, parts);
    push_components(client_path, parts);
    if (parts.empty()) return "/";
    std::string out;
    for (auto c : parts) {
        out += '/';
        out += c;
    }
    return out;
}

void split(std::string_view vpath, std::string& parent, std::string& name) {
    while (vpath.size() > 1 && vpath.back() == '/') vpath.remove_suffix(1);
    auto pos = vpath.rfind('/');
    if (pos == std::string_view::npos) {
        parent = "/";
        name = std::string(vpath);
    } else if (pos == 0) {
        parent = "/";
        name = std::string(vpath.substr(1));
    } else {
        parent = std::string(vpath.substr(0, pos));
        name = std::string(vpath.substr(pos + 1));
    }
}

}  // namespace ferry::vfs
