#include "client/mirror_plan.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

namespace ferry::client {

namespace {

constexpr std::string_view part_suffix = ".ferry-part";

std::string_view base_of(std::string_view p) {
    auto slash = p.rfind('/');
    return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

std::string_view parent_of(std::string_view p) {
    auto slash = p.rfind('/');
    return slash == std::string_view::npos ? std::string_view() : p.substr(0, slash);
}

// Component order: "a" < "a/b" < "a b", so that a folder sorts right before its contents.
bool path_less(const std::string& a, const std::string& b) {
    std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (a[i] == b[i]) continue;
        if (a[i] == '/') return true;
        if (b[i] == '/') return false;
        return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
    }
    return a.size() < b.size();
}

bool under(std::string_view path, std::string_view dir) {
    return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

}  // namespace

bool safe_name(std::string_view name) {
    if (name.empty() || name == "." || name == "..") return false;
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (c == '/' || u < 0x20 || u == 0x7f) return false;
    }
    return true;
}

bool safe_relative_path(std::string_view path) {
    if (path.empty()) return false;
    std::size_t start = 0;
    for (;;) {
        auto slash = path.find('/', start);
        if (!safe_name(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start)))
            return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

std::string part_path(std::string_view path) {
    std::string_view dir = parent_of(path);
    std::string out(dir);
    if (!out.empty()) out += '/';
    out += '.';
    out += base_of(path);
    out += part_suffix;
    return out;
}

bool is_part_path(std::string_view path, std::string* target) {
    std::string_view base = base_of(path);
    if (base.size() <= 1 + part_suffix.size() || base[0] != '.' ||
        base.substr(base.size() - part_suffix.size()) != part_suffix)
        return false;
    if (target) {
        std::string_view dir = parent_of(path);
        *target = std::string(dir) + (dir.empty() ? "" : "/") +
                  std::string(base.substr(1, base.size() - 1 - part_suffix.size()));
    }
    return true;
}

bool glob_matches(const std::string& pattern, std::string_view path) {
    std::string p(path), b(base_of(path));
    return ::fnmatch(pattern.c_str(), p.c_str(), 0) == 0 || ::fnmatch(pattern.c_str(), b.c_str(), 0) == 0;
}

bool selected(const mirror_options& o, std::string_view path, tree_type type) {
    // An excluded folder excludes everything in it.
    for (std::string_view p = path; !p.empty(); p = parent_of(p))
        for (const auto& x : o.exclude)
            if (glob_matches(x, p)) return false;
    if (type == tree_type::dir || o.include.empty()) return true;
    for (const auto& i : o.include)
        if (glob_matches(i, path)) return true;
    return false;
}

mirror_plan plan_mirror(std::vector<tree_entry> source, std::vector<tree_entry> destination, const mirror_options& o) {
    mirror_plan plan;
    auto by_path = [](const tree_entry& a, const tree_entry& b) { return path_less(a.path, b.path); };
    std::sort(source.begin(), source.end(), by_path);
    std::sort(destination.begin(), destination.end(), by_path);

    std::map<std::string, tree_entry> dest;
    for (auto& d : destination) {
        if (!safe_relative_path(d.path)) {
            plan.warnings.push_back("skipped the destination's name '" + d.path + "': not a safe relative path");
            continue;
        }
        dest.emplace(d.path, d);
    }

    std::set<std::string> consumed;     // destination entries the source accounts for
    std::set<std::string> source_dirs;  // folders that exist on the destination after the plan
    std::vector<std::string> blocked;   // source folders not mirrored: their contents are skipped

    // The destination entries at or under dir, children first, as removals.
    auto remove_tree = [&](const std::string& dir) {
        std::vector<const tree_entry*> inside;
        for (auto it = dest.lower_bound(dir + "/"); it != dest.end(); ++it)
            if (under(it->first, dir)) inside.push_back(&it->second);
        std::sort(inside.begin(), inside.end(), [](auto* a, auto* b) { return path_less(b->path, a->path); });
        for (auto* e : inside) {
            plan.actions.push_back({e->type == tree_type::dir ? action_kind::remove_dir : action_kind::remove_file, e->path});
            consumed.insert(e->path);
        }
        plan.actions.push_back({action_kind::remove_dir, dir});
        consumed.insert(dir);
    };

    std::set<std::string> seen;
    for (const auto& s : source) {
        // SECURITY: path escape: a hostile listing's "../x", "a/../../x" or "/etc/x" never becomes a local path.
        if (!safe_relative_path(s.path)) {
            plan.warnings.push_back("skipped the source's name '" + s.path + "': not a safe relative path");
            continue;
        }
        // A listing that names an entry twice (a hostile or broken server) gets it once: two
        // transfers of one path would write one temporary file at once (fuzz_mirror_plan).
        if (!seen.insert(s.path).second) {
            plan.warnings.push_back("skipped the source's second entry named '" + s.path + "'");
            continue;
        }
        if (std::any_of(blocked.begin(), blocked.end(), [&](const std::string& b) { return under(s.path, b); }))
            continue;
        if (!selected(o, s.path, s.type)) continue;
        std::string parent(parent_of(s.path));
        if (!parent.empty() && !source_dirs.count(parent)) {
            plan.warnings.push_back("skipped " + s.path + ": its folder is not mirrored");
            continue;
        }
        if (s.type == tree_type::symlink) {
            plan.warnings.push_back("skipped " + s.path + ": a symbolic link, not followed");
            if (dest.count(s.path)) consumed.insert(s.path);  // left alone, not deleted
            continue;
        }
        if (is_part_path(s.path)) {
            plan.warnings.push_back("skipped " + s.path + ": the name of a ferry temporary file");
            continue;
        }
        auto d = dest.find(s.path);
        if (s.type == tree_type::dir) {
            if (d != dest.end() && d->second.type == tree_type::dir) {
                consumed.insert(s.path);
            } else if (d == dest.end()) {
                plan.actions.push_back({action_kind::mkdir, s.path, 0, s.mtime});
            } else if (o.delete_extra) {
                plan.actions.push_back({action_kind::remove_file, s.path});
                plan.actions.push_back({action_kind::mkdir, s.path, 0, s.mtime});
                consumed.insert(s.path);
            } else {
                plan.warnings.push_back("skipped the folder " + s.path +
                                        ": the destination has a file or link of that name (--delete replaces it)");
                blocked.push_back(s.path);
                consumed.insert(s.path);
                continue;
            }
            source_dirs.insert(s.path);
            continue;
        }
        // A file.
        if (d != dest.end() && d->second.type == tree_type::dir) {
            if (!o.delete_extra) {
                plan.warnings.push_back("skipped " + s.path +
                                        ": the destination has a folder of that name (--delete replaces it)");
                consumed.insert(s.path);
                for (auto it = dest.lower_bound(s.path + "/"); it != dest.end() && under(it->first, s.path); ++it)
                    consumed.insert(it->first);
                continue;
            }
            remove_tree(s.path);
            d = dest.end();
        }
        if (d != dest.end()) consumed.insert(s.path);
        if (d != dest.end() && d->second.type == tree_type::file && d->second.size == s.size) {
            if (o.checksum) {
                plan.actions.push_back({action_kind::compare, s.path, s.size, s.mtime});
                continue;
            }
            if (d->second.mtime == s.mtime) {
                plan.actions.push_back({action_kind::skip, s.path, s.size, s.mtime});
                continue;
            }
        }
        mirror_action t{action_kind::transfer, s.path, s.size, s.mtime};
        if (auto p = dest.find(part_path(s.path)); p != dest.end()) {
            consumed.insert(p->first);
            if (p->second.type == tree_type::file && p->second.size > 0 && p->second.size < s.size)
                t.resume_offset = p->second.size;
        }
        plan.actions.push_back(t);
    }

    // What the source lacks. Excluded entries stay, and so do the folders holding them.
    std::set<std::string> kept;
    for (const auto& [path, e] : dest) {
        if (consumed.count(path)) continue;
        std::string target;
        bool part = is_part_path(path, &target);
        if (part ? !selected(o, target, tree_type::file) : !selected(o, path, e.type))
            for (std::string_view p = parent_of(path); !p.empty(); p = parent_of(p)) kept.insert(std::string(p));
    }
    if (!o.delete_extra) return plan;
    std::vector<const tree_entry*> extra;
    for (const auto& [path, e] : dest) {
        if (consumed.count(path) || kept.count(path)) continue;
        std::string target;
        if (is_part_path(path, &target) ? !selected(o, target, tree_type::file) : !selected(o, path, e.type)) continue;
        extra.push_back(&e);
    }
    std::sort(extra.begin(), extra.end(), [](auto* a, auto* b) { return path_less(b->path, a->path); });
    for (auto* e : extra)
        plan.actions.push_back({e->type == tree_type::dir ? action_kind::remove_dir : action_kind::remove_file, e->path});
    return plan;
}

std::string describe(const mirror_action& a) {
    switch (a.kind) {
        case action_kind::mkdir: return "mkdir " + a.path;
        case action_kind::transfer:
            return "transfer " + a.path + " (" + std::to_string(a.size) + " bytes" +
                   (a.resume_offset ? ", resuming at byte " + std::to_string(a.resume_offset) : std::string()) + ")";
        case action_kind::compare: return "compare " + a.path + " (same size; checksums decide)";
        case action_kind::remove_file: return "delete " + a.path;
        case action_kind::remove_dir: return "rmdir " + a.path;
        case action_kind::skip: return "skip " + a.path + " (unchanged)";
    }
    return "?";
}

}  // namespace ferry::client
