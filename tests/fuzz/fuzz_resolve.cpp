// vfs::resolve (lexical path confinement) and vfs::split.
// Input: "cwd\npath" (no LF: cwd "/", the whole input is the path). The cwd is first normalised
// by resolve itself, as the session does. Invariants of the result: starts with '/', has no
// empty, "." or ".." component (so no "//" and no escape above the root), no trailing '/' unless
// it is "/"; it is a fixed point of resolve, and split() cuts it into parent + name.
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "vfs/root.hpp"

using ferry::fuzz::show;
using namespace ferry::vfs;

namespace {

void check_canonical(const std::string& r, const std::string& what) {
    FUZZ_CHECK(!r.empty() && r.front() == '/', what + ": not absolute: " + show(r));
    if (r == "/") return;
    FUZZ_CHECK(r.back() != '/', what + ": trailing slash: " + show(r));
    FUZZ_CHECK(r.find("//") == std::string::npos, what + ": empty component: " + show(r));
    std::size_t i = 1;
    while (i <= r.size()) {
        auto j = r.find('/', i);
        if (j == std::string::npos) j = r.size();
        const std::string_view c = std::string_view(r).substr(i, j - i);
        FUZZ_CHECK(c != ".." && c != ".", what + ": dot component in " + show(r));
        i = j + 1;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto nl = in.find('\n');
    const std::string_view cwd_raw = nl == std::string_view::npos ? std::string_view("/") : in.substr(0, nl);
    const std::string_view path = nl == std::string_view::npos ? in : in.substr(nl + 1);

    const std::string cwd = resolve("/", cwd_raw);
    check_canonical(cwd, "cwd " + show(cwd_raw));
    const std::string r = resolve(cwd, path);
    check_canonical(r, "resolve(" + show(cwd) + ", " + show(path) + ")");

    // Fixed point: canonical paths resolve to themselves, from anywhere.
    FUZZ_CHECK(resolve("/", r) == r, "not a fixed point: " + show(r));
    FUZZ_CHECK(resolve(cwd, r) == r, "absolute result depends on cwd: " + show(r));
    FUZZ_CHECK(resolve(r, "") == r, "empty path changes cwd " + show(r));
    FUZZ_CHECK(resolve(r, ".") == r, "\".\" changes cwd " + show(r));
    // An absolute client path ignores the cwd.
    if (!path.empty() && path.front() == '/') FUZZ_CHECK(resolve("/", path) == r, "absolute path depends on cwd");
    // ".." never leaves the root, and goes exactly one level up.
    std::string parent, name;
    split(r, parent, name);
    FUZZ_CHECK(resolve(r, "..") == parent, "\"..\" of " + show(r) + " is not " + show(parent));
    if (r == "/") {
        FUZZ_CHECK(parent == "/" && name.empty(), "split of /");
    } else {
        check_canonical(parent, "parent");
        FUZZ_CHECK(!name.empty() && name.find('/') == std::string::npos, "name " + show(name));
        FUZZ_CHECK((parent == "/" ? "/" + name : parent + "/" + name) == r, "split does not rejoin " + show(r));
        FUZZ_CHECK(resolve(parent, name) == r, "resolve(parent, name) != path for " + show(r));
    }
    return 0;
}
