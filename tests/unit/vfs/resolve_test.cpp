#include <gtest/gtest.h>

#include "vfs/root.hpp"

using ferry::vfs::resolve;
using ferry::vfs::split;

TEST(resolve, table) {
    struct row {
        const char* cwd;
        const char* path;
        const char* want;
    };
    const row rows[] = {
        {"/", "", "/"},
        {"/a/b", "", "/a/b"},
        {"/", "a", "/a"},
        {"/a", "b/c", "/a/b/c"},
        {"/a", "/x", "/x"},
        {"/a", "/", "/"},
        {"/a/b", "..", "/a"},
        {"/a/b", "../..", "/"},
        {"/a/b", "../../../..", "/"},
        {"/", "../../etc/passwd", "/etc/passwd"},
        {"/a", "/../../etc/passwd", "/etc/passwd"},
        {"/a", "./b/./c/.", "/a/b/c"},
        {"/a", "b//c///", "/a/b/c"},
        {"/a", "//x//y", "/x/y"},
        {"/a", "b/../c", "/a/c"},
        {"/a", "b/../../..", "/"},
        {"//a//b/", "c", "/a/b/c"},
        {"/a/../b", ".", "/b"},
        {"", "x", "/x"},
        {"/", "...", "/..."},
        {"/", "..x/.y", "/..x/.y"},
        {"/", "a b/c", "/a b/c"},
    };
    for (const auto& r : rows)
        EXPECT_EQ(resolve(r.cwd, r.path), r.want) << "cwd=" << r.cwd << " path=" << r.path;
}

TEST(split, table) {
    std::string p, n;
    split("/a/b/c", p, n);
    EXPECT_EQ(p, "/a/b");
    EXPECT_EQ(n, "c");
    split("/a", p, n);
    EXPECT_EQ(p, "/");
    EXPECT_EQ(n, "a");
    split("/", p, n);
    EXPECT_EQ(p, "/");
    EXPECT_EQ(n, "");
}
