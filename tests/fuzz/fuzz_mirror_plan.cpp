// client::plan_mirror on trees made of arbitrary bytes (what a hostile server's listing can
// name), and parse_hash_reply on arbitrary reply text.
// Input: lines "S|D TYPE SIZE MTIME PATH" (TYPE f, d or l; S source, D destination); a first
// line starting with '#' sets options ("#delete", "#checksum", "#x GLOB", "#i GLOB"); a line
// "H SIZE TEXT" is a HASH reply for a file of SIZE bytes.
// Invariants: every action's path is a safe relative path (SECURITY: path escape: nothing
// outside the local tree is ever named); nothing is removed without --delete; a transfer names a
// source file; no path is transferred twice; a parsed HASH is 64 lowercase hex digits.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "client/mirror.hpp"
#include "client/mirror_plan.hpp"
#include "fuzz_check.hpp"

using ferry::fuzz::show;
using namespace ferry::client;

namespace {

std::string_view next_word(std::string_view& s) {
    auto sp = s.find(' ');
    std::string_view w = s.substr(0, sp);
    s.remove_prefix(sp == std::string_view::npos ? s.size() : sp + 1);
    return w;
}

std::uint64_t number(std::string_view w) {
    std::uint64_t n = 0;
    for (char c : w.substr(0, 12))
        if (c >= '0' && c <= '9') n = n * 10 + static_cast<std::uint64_t>(c - '0');
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<tree_entry> source, destination;
    mirror_options o;
    std::set<std::string> source_files;
    while (!in.empty()) {
        auto nl = in.find('\n');
        std::string_view line = in.substr(0, nl);
        in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
        if (line.starts_with("#")) {
            std::string_view rest = line.substr(1);
            std::string_view w = next_word(rest);
            if (w == "delete") o.delete_extra = true;
            else if (w == "checksum") o.checksum = true;
            else if (w == "x") o.exclude.emplace_back(rest);
            else if (w == "i") o.include.emplace_back(rest);
            continue;
        }
        std::string_view side = next_word(line);
        if (side == "H") {
            const std::uint64_t sz = number(next_word(line));
            if (auto hex = parse_hash_reply(213, line, sz)) {
                FUZZ_CHECK(hex->size() == 64, show(*hex));
                for (char c : *hex) FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), show(*hex));
            }
            continue;
        }
        if (side != "S" && side != "D") continue;
        std::string_view type = next_word(line);
        tree_entry e;
        e.type = type == "d" ? tree_type::dir : type == "l" ? tree_type::symlink : tree_type::file;
        e.size = number(next_word(line));
        e.mtime = static_cast<std::int64_t>(number(next_word(line)));
        e.path = std::string(line);
        if (side == "S") {
            if (e.type == tree_type::file) source_files.insert(e.path);
            source.push_back(e);
        } else {
            destination.push_back(e);
        }
    }
    const mirror_plan plan = plan_mirror(source, destination, o);
    std::set<std::string> transferred;
    for (const mirror_action& a : plan.actions) {
        FUZZ_CHECK(safe_relative_path(a.path), "unsafe path in the plan: " + show(a.path));
        FUZZ_CHECK(a.path.find("..") == std::string::npos || safe_relative_path(a.path), show(a.path));
        if (a.kind == action_kind::remove_file || a.kind == action_kind::remove_dir)
            FUZZ_CHECK(o.delete_extra, "removal without --delete: " + show(a.path));
        if (a.kind == action_kind::transfer) {
            FUZZ_CHECK(source_files.count(a.path), "transfer of a path that is no source file: " + show(a.path));
            FUZZ_CHECK(transferred.insert(a.path).second, "transferred twice: " + show(a.path));
        }
    }
    return 0;
}
