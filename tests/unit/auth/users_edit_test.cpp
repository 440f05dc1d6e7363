// The users file edited by `ferryd user`: lines kept, names checked, the file replaced atomically.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "auth/users_edit.hpp"
#include "auth/users_file.hpp"

using ferry::auth::check_user_name;
using ferry::auth::make_yescrypt_hash;
using ferry::auth::replace_file_atomically;
using ferry::auth::users_edit;

namespace {

const std::string h1 = "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1";

const std::string sample = "# ferry users\n"
                           "\n"
                           "alice:" + h1 + ":/srv/alice\n"
                           "  # indented comment\n"
                           "bob:" + h1 + ":bob\n";

users_edit parsed(const std::string& text) {
    users_edit u;
    std::string error;
    EXPECT_TRUE(u.parse(text, "users", error)) << error;
    return u;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct scratch {
    std::filesystem::path path;
    scratch() {
        std::string t = "/tmp/ferry-users-edit-XXXXXX";
        path = ::mkdtemp(t.data());
    }
    ~scratch() { std::filesystem::remove_all(path); }
};

}  // namespace

// Unchanged text comes back byte for byte; list() names the users and homes as written.
TEST(UsersEdit, KeepsCommentsBlankLinesAndOrder) {
    auto u = parsed(sample);
    EXPECT_EQ(u.text(), sample);
    auto l = u.list();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].name, "alice");
    EXPECT_EQ(l[0].home, "/srv/alice");
    EXPECT_EQ(l[1].name, "bob");
    EXPECT_EQ(l[1].home, "bob");
}

// add appends one line and touches no other; the result is a users file ferryd accepts.
TEST(UsersEdit, AddAppendsAValidLine) {
    auto u = parsed(sample);
    std::string error;
    const std::string h2 = make_yescrypt_hash("pw2");
    ASSERT_TRUE(u.add("carol", h2, "/srv/carol", "", error)) << error;
    EXPECT_EQ(u.text(), sample + "carol:" + h2 + ":/srv/carol\n");
    ferry::auth::users_file f;
    ASSERT_TRUE(f.parse(u.text(), "users", "/srv", error)) << error;
    EXPECT_NE(f.authenticate("carol", "pw2"), nullptr);
    EXPECT_EQ(f.authenticate("carol", "wrong"), nullptr);
}

// A file without a final newline gets one before the new line (no "home" glued to a name).
TEST(UsersEdit, AddToFileWithoutFinalNewline) {
    auto u = parsed("alice:" + h1 + ":/a");
    std::string error;
    ASSERT_TRUE(u.add("bob", h1, "/b", "", error)) << error;
    EXPECT_EQ(u.text(), "alice:" + h1 + ":/a\nbob:" + h1 + ":/b\n");
}

// Duplicates and names that would break the file (':', newline, control, space, leading '#') are refused.
TEST(UsersEdit, AddRefusesDuplicatesAndBadNames) {
    auto u = parsed(sample);
    std::string error;
    EXPECT_FALSE(u.add("alice", h1, "/x", "", error));
    EXPECT_NE(error.find("already exists"), std::string::npos) << error;
    for (std::string bad : std::initializer_list<std::string>{"a:b", "a\nb", std::string("a\0b", 3), "a b", "#x", "", "tab\t", "del\x7f"}) {
        EXPECT_TRUE(check_user_name(bad).has_value()) << bad;
        EXPECT_FALSE(u.add(bad, h1, "/x", "", error)) << bad;
    }
    EXPECT_FALSE(u.add("dave", h1, "/x\n", "", error));  // a newline in the home folder
    EXPECT_FALSE(u.add("dave", h1, "/x:y", "", error));   // ':' would start the options
    EXPECT_FALSE(u.add("dave", h1, "/x", "readonly,fast", error));
    EXPECT_NE(error.find("unknown option 'fast'"), std::string::npos) << error;
    EXPECT_FALSE(check_user_name("dave.smith-2").has_value());
    EXPECT_EQ(u.text(), sample);  // nothing refused changed anything
}

// A user's options are written after the home folder, listed apart from it, and kept by passwd.
TEST(UsersEdit, OptionsAreWrittenListedAndKept) {
    auto u = parsed(sample);
    std::string error;
    ASSERT_TRUE(u.add("carol", h1, "/srv/carol", "readonly,download=1M", error)) << error;
    EXPECT_EQ(u.text(), sample + "carol:" + h1 + ":/srv/carol:readonly,download=1M\n");
    auto l = u.list();
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[2].home, "/srv/carol");
    EXPECT_EQ(l[2].options, "readonly,download=1M");
    EXPECT_EQ(l[0].options, "");
    ASSERT_TRUE(u.set_hash("carol", "$y$new", error)) << error;
    EXPECT_EQ(u.text(), sample + "carol:$y$new:/srv/carol:readonly,download=1M\n");
}

// passwd replaces only the hash of that user's line; del removes only that line.
TEST(UsersEdit, PasswdAndDelTouchOnlyTheirLine) {
    auto u = parsed(sample);
    std::string error;
    ASSERT_TRUE(u.set_hash("bob", "$y$new", error)) << error;
    std::string want = sample;
    want.replace(want.find("bob:") + 4, h1.size(), "$y$new");
    EXPECT_EQ(u.text(), want);
    ASSERT_TRUE(u.remove("alice", error)) << error;
    EXPECT_EQ(u.text(), "# ferry users\n\n  # indented comment\nbob:$y$new:bob\n");
}

// Unknown users are errors for del and passwd, naming the user.
TEST(UsersEdit, UnknownUserIsAnError) {
    auto u = parsed(sample);
    std::string error;
    EXPECT_FALSE(u.remove("nobody", error));
    EXPECT_NE(error.find("nobody"), std::string::npos);
    EXPECT_FALSE(u.set_hash("nobody", h1, error));
    EXPECT_FALSE(u.remove("#", error));  // a comment is not a user
    EXPECT_EQ(u.text(), sample);
}

// A file ferryd would refuse is not edited.
TEST(UsersEdit, RefusesBrokenFile) {
    users_edit u;
    std::string error;
    EXPECT_FALSE(u.parse("alice:plaintext:/a\n", "users", error));
    EXPECT_NE(error.find("users:1"), std::string::npos) << error;
}

// yescrypt: "$y$" hashes with a fresh salt each time, verified by crypt(3).
TEST(UsersEdit, YescryptHashes) {
    const auto a = make_yescrypt_hash("secret"), b = make_yescrypt_hash("secret");
    EXPECT_EQ(a.rfind("$y$", 0), 0u) << a;
    EXPECT_NE(a, b);
    ferry::auth::users_file f;
    std::string error;
    ASSERT_TRUE(f.parse("u:" + a + ":/h\n", "users", "", error)) << error;
    EXPECT_NE(f.authenticate("u", "secret"), nullptr);
}

// The replaced file keeps its mode; a new one is 0600; no temporary is left behind.
TEST(UsersEdit, ReplaceKeepsModeAndLeavesNoTemporary) {
    scratch d;
    const auto p = d.path / "users";
    std::string error;
    ASSERT_TRUE(replace_file_atomically(p.string(), "one\n", error)) << error;
    struct stat st{};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::chmod(p.c_str(), 0640), 0);
    const ino_t before = st.st_ino;
    ASSERT_TRUE(replace_file_atomically(p.string(), "two\n", error)) << error;
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_NE(st.st_ino, before);  // a new inode renamed in: readers see the old or the new file whole
    EXPECT_EQ(slurp(p), "two\n");
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(d.path), std::filesystem::directory_iterator{}), 1);
}

// Through a symbolic link the target is replaced and the link stays.
TEST(UsersEdit, ReplaceFollowsSymlink) {
    scratch d;
    std::string error;
    ASSERT_TRUE(replace_file_atomically((d.path / "real").string(), "one\n", error)) << error;
    std::filesystem::create_symlink(d.path / "real", d.path / "link");
    ASSERT_TRUE(replace_file_atomically((d.path / "link").string(), "two\n", error)) << error;
    EXPECT_TRUE(std::filesystem::is_symlink(d.path / "link"));
    EXPECT_EQ(slurp(d.path / "real"), "two\n");
}

// A folder that cannot take the temporary leaves the old file as it was, with a message.
TEST(UsersEdit, ReplaceFailureLeavesOldFile) {
    std::string error;
    EXPECT_FALSE(replace_file_atomically("/nonexistent-ferry-dir/users", "x\n", error));
    EXPECT_NE(error.find("/nonexistent-ferry-dir"), std::string::npos) << error;
}
