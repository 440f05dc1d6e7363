#include "client/mirror_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace ferry::client;

namespace {

tree_entry file(std::string p, std::uint64_t size, std::int64_t mtime = 1000) {
    return {std::move(p), tree_type::file, size, mtime};
}
tree_entry dir(std::string p) { return {std::move(p), tree_type::dir, 0, 0}; }
tree_entry link(std::string p) { return {std::move(p), tree_type::symlink, 0, 0}; }

std::vector<std::string> lines(const mirror_plan& p) {
    std::vector<std::string> out;
    for (const auto& a : p.actions) out.push_back(describe(a));
    return out;
}

using v = std::vector<std::string>;

}  // namespace

TEST(mirror_plan, safe_names) {
    EXPECT_TRUE(safe_name("a b.txt"));
    EXPECT_TRUE(safe_name("..."));
    EXPECT_TRUE(safe_name(".hidden"));
    EXPECT_FALSE(safe_name(""));
    EXPECT_FALSE(safe_name("."));
    EXPECT_FALSE(safe_name(".."));
    EXPECT_FALSE(safe_name("a/b"));
    EXPECT_FALSE(safe_name(std::string("a\0b", 3)));
    EXPECT_FALSE(safe_name("a\nb"));
    EXPECT_FALSE(safe_name("a\rb"));
    EXPECT_FALSE(safe_name("a\x1b[2Jb"));
    EXPECT_FALSE(safe_name("a\x7f"));
    EXPECT_TRUE(safe_relative_path("a/b c/d"));
    EXPECT_FALSE(safe_relative_path("/etc/passwd"));
    EXPECT_FALSE(safe_relative_path("a/../../x"));
    EXPECT_FALSE(safe_relative_path("a//b"));
    EXPECT_FALSE(safe_relative_path("a/"));
    EXPECT_FALSE(safe_relative_path(""));
}

TEST(mirror_plan, part_names) {
    EXPECT_EQ(part_path("f"), ".f.ferry-part");
    EXPECT_EQ(part_path("a/b/f x"), "a/b/.f x.ferry-part");
    std::string target;
    EXPECT_TRUE(is_part_path("a/.f x.ferry-part", &target));
    EXPECT_EQ(target, "a/f x");
    EXPECT_FALSE(is_part_path("a/f.ferry-part"));
    EXPECT_FALSE(is_part_path(".ferry-part"));
}

TEST(mirror_plan, empty_destination_gets_folders_before_their_files) {
    auto p = plan_mirror({file("z/f", 3), dir("z"), file("top", 0), dir("a b"), file("a b/x", 5)}, {}, {});
    EXPECT_EQ(lines(p), (v{"mkdir a b", "transfer a b/x (5 bytes)", "transfer top (0 bytes)", "mkdir z",
                           "transfer z/f (3 bytes)"}));
    EXPECT_TRUE(p.warnings.empty());
}

TEST(mirror_plan, unchanged_files_are_skipped_to_the_second) {
    auto p = plan_mirror({file("same", 10, 500), file("newer", 10, 501), file("bigger", 11, 500)},
                         {file("same", 10, 500), file("newer", 10, 500), file("bigger", 10, 500)}, {});
    EXPECT_EQ(lines(p), (v{"transfer bigger (11 bytes)", "transfer newer (10 bytes)", "skip same (unchanged)"}));
}

TEST(mirror_plan, a_shorter_partial_temp_file_is_resumed) {
    auto p = plan_mirror({dir("d"), file("d/big", 1000), file("d/small", 10)},
                         {dir("d"), file("d/.big.ferry-part", 400), file("d/.small.ferry-part", 10)}, {});
    EXPECT_EQ(lines(p), (v{"transfer d/big (1000 bytes, resuming at byte 400)", "transfer d/small (10 bytes)"}));
    EXPECT_EQ(p.actions[0].resume_offset, 400u);
    EXPECT_EQ(p.actions[1].resume_offset, 0u);  // not shorter: nothing to resume, start over
}

TEST(mirror_plan, delete_removes_extras_children_first_and_only_with_the_option) {
    std::vector<tree_entry> src{file("keep", 1)};
    std::vector<tree_entry> dst{file("keep", 1, 1000), dir("old"), dir("old/sub"), file("old/sub/f", 2), file("x", 1)};
    EXPECT_EQ(lines(plan_mirror(src, dst, {})), (v{"skip keep (unchanged)"}));
    mirror_options o;
    o.delete_extra = true;
    EXPECT_EQ(lines(plan_mirror(src, dst, o)),
              (v{"skip keep (unchanged)", "delete x", "delete old/sub/f", "rmdir old/sub", "rmdir old"}));
}

TEST(mirror_plan, excluded_entries_are_neither_sent_nor_deleted) {
    mirror_options o;
    o.delete_extra = true;
    o.exclude = {"*.tmp", "cache"};
    auto p = plan_mirror({file("a.tmp", 1), file("b", 1), dir("cache"), file("cache/c", 1), dir("d"), file("d/e.tmp", 1)},
                         {file("old.tmp", 1), dir("cache"), file("cache/z", 1), dir("gone"), file("gone/k.tmp", 1)}, o);
    // "gone" stays: it holds an excluded file.
    EXPECT_EQ(lines(p), (v{"transfer b (1 bytes)", "mkdir d"}));
}

TEST(mirror_plan, include_selects_files_by_path_or_base_name) {
    mirror_options o;
    o.include = {"*.csv", "docs/*"};
    auto p = plan_mirror({file("a.csv", 1), file("b.txt", 1), dir("docs"), file("docs/r.txt", 1), dir("x"),
                          file("x/y.csv", 1), file("x/z.txt", 1)},
                         {}, o);
    EXPECT_EQ(lines(p), (v{"transfer a.csv (1 bytes)", "mkdir docs", "transfer docs/r.txt (1 bytes)", "mkdir x",
                           "transfer x/y.csv (1 bytes)"}));
    o.exclude = {"y.csv"};  // exclude wins
    EXPECT_EQ(lines(plan_mirror({file("y.csv", 1)}, {}, o)), v{});
}

TEST(mirror_plan, hostile_names_are_skipped_with_a_warning) {
    auto p = plan_mirror({file("../evil", 1), file("/etc/passwd", 1), file("a/../../x", 1), file(std::string("n\0x", 3), 1),
                          file("esc\x1b]0;x\x07", 1), dir(".."), file("../../.ssh/authorized_keys", 1), file("ok", 1)},
                         {}, {});
    EXPECT_EQ(lines(p), (v{"transfer ok (1 bytes)"}));
    EXPECT_EQ(p.warnings.size(), 7u);
}

TEST(mirror_plan, contents_of_an_unlisted_folder_are_not_mirrored) {
    // A listing that names "sub/f" without "sub": the folder was never walked as one.
    auto p = plan_mirror({file("sub/f", 1)}, {}, {});
    EXPECT_TRUE(p.actions.empty());
    ASSERT_EQ(p.warnings.size(), 1u);
}

TEST(mirror_plan, symlinks_are_skipped_and_not_deleted) {
    mirror_options o;
    o.delete_extra = true;
    auto p = plan_mirror({link("l"), file("f", 1)}, {link("l"), file("f", 1, 1000)}, o);
    EXPECT_EQ(lines(p), (v{"skip f (unchanged)"}));
    EXPECT_EQ(p.warnings.size(), 1u);
}

TEST(mirror_plan, source_files_with_the_temp_name_are_skipped) {
    auto p = plan_mirror({file(".x.ferry-part", 3), file("x", 5)}, {}, {});
    EXPECT_EQ(lines(p), (v{"transfer x (5 bytes)"}));
    EXPECT_EQ(p.warnings.size(), 1u);
}

TEST(mirror_plan, temp_files_are_deleted_only_when_stale_and_with_delete) {
    mirror_options o;
    o.delete_extra = true;
    auto p = plan_mirror({file("x", 5, 7)}, {file("x", 5, 7), file(".x.ferry-part", 2), file(".gone.ferry-part", 2)}, o);
    EXPECT_EQ(lines(p), (v{"skip x (unchanged)", "delete .x.ferry-part", "delete .gone.ferry-part"}));
    EXPECT_TRUE(plan_mirror({file("x", 5, 7)}, {file("x", 5, 7), file(".gone.ferry-part", 2)}, {}).actions.size() == 1);
}

TEST(mirror_plan, type_conflicts_need_delete) {
    // Source file where the destination has a folder, and the other way round.
    std::vector<tree_entry> src{file("a", 1), dir("b"), file("b/c", 1)};
    std::vector<tree_entry> dst{dir("a"), file("a/in", 1), file("b", 1)};
    auto p = plan_mirror(src, dst, {});
    EXPECT_TRUE(p.actions.empty());
    EXPECT_EQ(p.warnings.size(), 2u);
    mirror_options o;
    o.delete_extra = true;
    EXPECT_EQ(lines(plan_mirror(src, dst, o)), (v{"delete a/in", "rmdir a", "transfer a (1 bytes)", "delete b", "mkdir b",
                                                   "transfer b/c (1 bytes)"}));
}

TEST(mirror_plan, a_destination_symlink_is_never_entered_as_a_folder) {
    // SECURITY: path escape: a local link "d -> /etc" must not receive the source's d/passwd.
    auto p = plan_mirror({dir("d"), file("d/passwd", 1)}, {link("d")}, {});
    EXPECT_TRUE(p.actions.empty());
    mirror_options o;
    o.delete_extra = true;
    EXPECT_EQ(lines(plan_mirror({dir("d"), file("d/passwd", 1)}, {link("d")}, o)),
              (v{"delete d", "mkdir d", "transfer d/passwd (1 bytes)"}));
}

TEST(mirror_plan, checksum_mode_compares_same_size_files) {
    mirror_options o;
    o.checksum = true;
    auto p = plan_mirror({file("a", 3, 1), file("b", 4, 1)}, {file("a", 3, 9), file("b", 5, 1)}, o);
    EXPECT_EQ(lines(p), (v{"compare a (same size; checksums decide)", "transfer b (4 bytes)"}));
}

TEST(mirror_plan, glob_matching) {
    EXPECT_TRUE(glob_matches("*.txt", "a/b/c.txt"));
    EXPECT_TRUE(glob_matches("a/*", "a/b"));
    EXPECT_FALSE(glob_matches("b", "a/b/c"));
    EXPECT_TRUE(glob_matches("*", "x"));
    mirror_options o;
    o.exclude = {"b"};
    EXPECT_FALSE(selected(o, "a/b/c", tree_type::file));  // a folder named b is excluded, with its contents
    EXPECT_TRUE(selected(o, "a/bc", tree_type::file));
}

TEST(mirror_plan, a_path_listed_twice_is_planned_once) {
    // Found by fuzz_mirror_plan: a server listing one name twice got two transfers of one path,
    // which -P would run at once into one temporary file.
    std::vector<tree_entry> src{{"g", tree_type::file, 9, 9}, {"g", tree_type::file, 9, 9}, {"d", tree_type::dir, 0, 0},
                                {"d", tree_type::dir, 0, 0}};
    auto plan = plan_mirror(src, {}, {});
    int transfers = 0, mkdirs = 0;
    for (const auto& a : plan.actions) {
        transfers += a.kind == action_kind::transfer;
        mkdirs += a.kind == action_kind::mkdir;
    }
    EXPECT_EQ(transfers, 1);
    EXPECT_EQ(mkdirs, 1);
    EXPECT_EQ(plan.warnings.size(), 2u);
}
