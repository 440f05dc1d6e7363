// Tests against real folders: <tmp>/root is the user's tree, <tmp>/outside holds a secret
// that no operation through the root may read, list, change or write next to.
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "vfs/root.hpp"

namespace fs = std::filesystem;
using ferry::vfs::root;
using ferry::vfs::unique_fd;
using mode = ferry::vfs::root::write_mode;
using kind = ferry::proto::file_info::kind;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

std::string read_fd(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

void write_fd(int fd, const std::string& data) {
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

// All names in a host folder, including hidden ones.
std::vector<std::string> host_names(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

bool has_temp_file(const std::string& dir) {
    for (const auto& n : host_names(dir))
        if (n.rfind(".ferry-upload-", 0) == 0) return true;
    return false;
}

const std::error_code denied = std::make_error_code(std::errc::permission_denied);

class vfs_root : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ferry-vfs-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        host_ = base_ + "/root";
        outside_ = base_ + "/outside";
        fs::create_directory(host_);
        fs::create_directory(outside_);
        spit(outside_ + "/secret.txt", "TOP SECRET");
        ::chmod((outside_ + "/secret.txt").c_str(), 0600);
        fs::create_directory(host_ + "/docs");
        spit(host_ + "/docs/a.txt", "alpha");
        spit(host_ + "/hello.txt", "hello world");
        std::error_code ec;
        r_ = root::open(host_, ec);
        ASSERT_FALSE(ec) << ec.message();
        ASSERT_TRUE(r_.is_open());
    }
    void TearDown() override { fs::remove_all(base_); }

    void expect_secret_intact() {
        EXPECT_EQ(slurp(outside_ + "/secret.txt"), "TOP SECRET");
        EXPECT_EQ(host_names(outside_), std::vector<std::string>{"secret.txt"});
        struct stat st{};
        ASSERT_EQ(::stat((outside_ + "/secret.txt").c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 07777, 0600u);
    }

    std::string base_, host_, outside_;
    root r_;
};

}  // namespace

TEST_F(vfs_root, open_requires_a_directory) {
    std::error_code ec;
    root r = root::open(host_ + "/hello.txt", ec);
    EXPECT_EQ(ec, std::errc::not_a_directory);
    EXPECT_FALSE(r.is_open());
    r = root::open(base_ + "/missing", ec);
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
}

TEST_F(vfs_root, read_and_stat) {
    std::error_code ec;
    unique_fd fd = r_.open_read("/hello.txt", ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(read_fd(fd.get()), "hello world");
    // the fd is blocking again after the O_NONBLOCK open
    EXPECT_EQ(::fcntl(fd.get(), F_GETFL) & O_NONBLOCK, 0);

    ferry::proto::file_info info;
    ASSERT_FALSE(r_.stat("/hello.txt", info));
    EXPECT_EQ(info.name, "hello.txt");
    EXPECT_EQ(info.type, kind::file);
    EXPECT_EQ(info.size, 11u);
    const passwd* me = ::getpwuid(::geteuid());
    EXPECT_EQ(info.owner, me ? std::string(me->pw_name) : std::to_string(::geteuid()));
    ASSERT_FALSE(r_.stat("/docs", info));
    EXPECT_EQ(info.type, kind::dir);
    ASSERT_FALSE(r_.stat("/", info));
    EXPECT_EQ(info.name, "/");
    EXPECT_EQ(info.type, kind::dir);

    EXPECT_FALSE(r_.can_enter("/docs"));
    EXPECT_FALSE(r_.can_enter("/"));
    EXPECT_EQ(r_.can_enter("/hello.txt"), std::errc::not_a_directory);
    EXPECT_EQ(r_.can_enter("/nope"), std::errc::no_such_file_or_directory);
    EXPECT_EQ(r_.stat("/nope", info), std::errc::no_such_file_or_directory);

    r_.open_read("/docs", ec);
    EXPECT_EQ(ec, std::errc::is_a_directory);
    r_.open_read("/nope", ec);
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
}

TEST_F(vfs_root, fifo_is_refused_without_blocking) {
    ASSERT_EQ(::mkfifo((host_ + "/pipe").c_str(), 0644), 0);
    std::error_code ec;
    r_.open_read("/pipe", ec);
    EXPECT_EQ(ec, denied);
    r_.begin_upload("/pipe", mode::append, 0, ec);
    EXPECT_TRUE(ec);  // ENXIO: no reader
    r_.begin_upload("/pipe", mode::replace, 0, ec);
    EXPECT_EQ(ec, denied);  // not replaced by the upload either
}

TEST_F(vfs_root, dotdot_is_clamped_to_the_root) {
    std::string vpath = ferry::vfs::resolve("/docs", "../../etc/passwd");
    EXPECT_EQ(vpath, "/etc/passwd");
    std::error_code ec;
    r_.open_read(vpath, ec);
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);  // not the host's /etc/passwd
    fs::create_directory(host_ + "/etc");
    spit(host_ + "/etc/passwd", "inside");
    unique_fd fd = r_.open_read(vpath, ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(read_fd(fd.get()), "inside");
}

TEST_F(vfs_root, raw_dotdot_in_a_vpath_is_still_confined) {
    // resolve() never produces "..", but a caller bug must not become an escape: the kernel
    // check applies to whatever string reaches the root.
    std::error_code ec;
    r_.open_read("/../outside/secret.txt", ec);
    EXPECT_EQ(ec, denied);
    r_.list("/..", ec);
    EXPECT_EQ(ec, denied);
    EXPECT_TRUE(r_.make_dir("/../outside/x"));
    EXPECT_TRUE(r_.remove_file("/.."));
    EXPECT_TRUE(r_.rename("/hello.txt", "/../outside/h"));
    r_.begin_upload("/../outside/new", mode::replace, 0, ec);
    EXPECT_TRUE(ec);
    r_.open_read(std::string("/hello.txt\0/../../x", 19), ec);
    EXPECT_EQ(ec, std::errc::invalid_argument);
    expect_secret_intact();
}

TEST_F(vfs_root, absolute_symlink_to_etc_is_refused) {
    ASSERT_EQ(::symlink("/etc", (host_ + "/etc_link").c_str()), 0);
    std::error_code ec;
    r_.open_read("/etc_link/passwd", ec);
    EXPECT_EQ(ec, denied);
    r_.list("/etc_link", ec);
    EXPECT_EQ(ec, denied);
    ferry::proto::file_info info;
    EXPECT_EQ(r_.stat("/etc_link/passwd", info), denied);
    EXPECT_EQ(r_.stat("/etc_link", info), denied);
    EXPECT_EQ(r_.can_enter("/etc_link"), denied);
    EXPECT_EQ(r_.make_dir("/etc_link/ferry-test"), denied);
    EXPECT_EQ(r_.rename("/hello.txt", "/etc_link/ferry-test"), denied);
    r_.begin_upload("/etc_link/ferry-test", mode::replace, 0, ec);
    EXPECT_EQ(ec, denied);
    EXPECT_FALSE(fs::exists("/etc/ferry-test"));
    // The link itself is listed as a link.
    auto entries = r_.list("/", ec);
    ASSERT_FALSE(ec);
    bool seen = false;
    for (const auto& e : entries)
        if (e.name == "etc_link") {
            seen = true;
            EXPECT_EQ(e.type, kind::link);
        }
    EXPECT_TRUE(seen);
}

TEST_F(vfs_root, relative_symlink_out_of_the_root_is_refused) {
    ASSERT_EQ(::symlink("../outside", (host_ + "/out").c_str()), 0);
    ASSERT_EQ(::symlink("../outside/secret.txt", (host_ + "/secret_link").c_str()), 0);
    std::error_code ec;

    // read
    r_.open_read("/out/secret.txt", ec);
    EXPECT_EQ(ec, denied);
    r_.open_read("/secret_link", ec);
    EXPECT_EQ(ec, denied);
    ferry::proto::file_info info;
    EXPECT_EQ(r_.stat("/secret_link", info), denied);
    EXPECT_EQ(r_.stat("/out/secret.txt", info), denied);
    // list
    auto entries = r_.list("/out", ec);
    EXPECT_EQ(ec, denied);
    EXPECT_TRUE(entries.empty());
    // write through the folder link, in every mode
    for (auto m : {mode::replace, mode::append, mode::at_offset, mode::unique}) {
        auto up = r_.begin_upload("/out/new.txt", m, 0, ec);
        EXPECT_EQ(ec, denied) << static_cast<int>(m);
        EXPECT_EQ(up.fd(), -1);
    }
    // write through the file link: append / REST+STOR follow links only inside the root
    r_.begin_upload("/secret_link", mode::append, 0, ec);
    EXPECT_EQ(ec, denied);
    r_.begin_upload("/secret_link", mode::at_offset, 0, ec);
    EXPECT_EQ(ec, denied);
    // rename into / out of it, mkdir through it, delete through it
    EXPECT_EQ(r_.rename("/hello.txt", "/out/hello.txt"), denied);
    EXPECT_EQ(r_.rename("/out/secret.txt", "/stolen.txt"), denied);
    EXPECT_EQ(r_.make_dir("/out/dir"), denied);
    EXPECT_EQ(r_.remove_file("/out/secret.txt"), denied);
    EXPECT_EQ(r_.remove_dir("/out/dir"), denied);
    // metadata changes through the file link
    EXPECT_EQ(r_.chmod("/secret_link", 0666), denied);
    EXPECT_EQ(r_.chmod("/out/secret.txt", 0666), denied);
    EXPECT_EQ(r_.set_mtime("/secret_link", 0), denied);
    expect_secret_intact();
    EXPECT_TRUE(fs::exists(host_ + "/hello.txt"));

    // STOR over the link replaces the link itself, never the target.
    auto up = r_.begin_upload("/secret_link", mode::replace, 0, ec);
    ASSERT_FALSE(ec) << ec.message();
    write_fd(up.fd(), "mine");
    ASSERT_FALSE(up.commit());
    EXPECT_FALSE(fs::is_symlink(host_ + "/secret_link"));
    EXPECT_EQ(slurp(host_ + "/secret_link"), "mine");
    // Deleting a link removes the link only.
    ASSERT_EQ(::symlink("../outside/secret.txt", (host_ + "/secret_link2").c_str()), 0);
    EXPECT_FALSE(r_.remove_file("/secret_link2"));
    EXPECT_FALSE(fs::exists(host_ + "/secret_link2"));
    // Renaming the link moves the link (not the target), and the moved link is still refused.
    ASSERT_EQ(::symlink("/tmp/../../outside/secret.txt", (host_ + "/secret_link3").c_str()), 0);
    EXPECT_FALSE(r_.rename("/secret_link3", "/docs/l"));
    EXPECT_TRUE(fs::is_symlink(host_ + "/docs/l"));
    r_.open_read("/docs/l", ec);
    EXPECT_EQ(ec, denied);
    expect_secret_intact();
}

TEST_F(vfs_root, symlink_inside_the_tree_works) {
    ASSERT_EQ(::symlink("docs", (host_ + "/docs_link").c_str()), 0);
    ASSERT_EQ(::symlink("../hello.txt", (host_ + "/docs/hello_link").c_str()), 0);
    std::error_code ec;
    unique_fd fd = r_.open_read("/docs_link/a.txt", ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(read_fd(fd.get()), "alpha");
    fd = r_.open_read("/docs/hello_link", ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(read_fd(fd.get()), "hello world");
    ferry::proto::file_info info;
    ASSERT_FALSE(r_.stat("/docs/hello_link", info));  // stat follows (inside the root)
    EXPECT_EQ(info.type, kind::file);
    EXPECT_EQ(info.size, 11u);
    auto entries = r_.list("/docs_link", ec);
    ASSERT_FALSE(ec);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].name, "a.txt");
    EXPECT_EQ(entries[1].name, "hello_link");
    EXPECT_EQ(entries[1].type, kind::link);  // list shows the link itself
}

TEST_F(vfs_root, list_sorted_and_hides_dots_and_temp_files) {
    spit(host_ + "/b.txt", "b");
    spit(host_ + "/.hidden", "h");
    std::error_code ec;
    auto up = r_.begin_upload("/c.txt", mode::replace, 0, ec);
    ASSERT_FALSE(ec);
    ASSERT_TRUE(has_temp_file(host_));
    auto entries = r_.list("/", ec);
    ASSERT_FALSE(ec);
    std::vector<std::string> names;
    for (const auto& e : entries) names.push_back(e.name);
    EXPECT_EQ(names, (std::vector<std::string>{".hidden", "b.txt", "docs", "hello.txt"}));
    EXPECT_EQ(entries[2].type, kind::dir);
    EXPECT_EQ(entries[3].size, 11u);
    r_.list("/hello.txt", ec);
    EXPECT_EQ(ec, std::errc::not_a_directory);
    r_.list("/missing", ec);
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
}

TEST_F(vfs_root, replace_abort_keeps_old_bytes) {
    std::error_code ec;
    {
        auto up = r_.begin_upload("/hello.txt", mode::replace, 0, ec);
        ASSERT_FALSE(ec) << ec.message();
        EXPECT_EQ(up.final_name(), "/hello.txt");
        write_fd(up.fd(), "partial new da");
        up.abort();
        EXPECT_EQ(up.fd(), -1);
    }
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world");
    EXPECT_FALSE(has_temp_file(host_));
    {
        // destructor aborts too (connection dropped mid-transfer)
        auto up = r_.begin_upload("/docs/a.txt", mode::replace, 0, ec);
        ASSERT_FALSE(ec);
        write_fd(up.fd(), "xx");
        EXPECT_TRUE(has_temp_file(host_ + "/docs"));
    }
    EXPECT_EQ(slurp(host_ + "/docs/a.txt"), "alpha");
    EXPECT_FALSE(has_temp_file(host_ + "/docs"));
}

TEST_F(vfs_root, replace_commit_writes_new_bytes) {
    ::chmod((host_ + "/hello.txt").c_str(), 0640);
    std::error_code ec;
    auto up = r_.begin_upload("/hello.txt", mode::replace, 0, ec);
    ASSERT_FALSE(ec);
    write_fd(up.fd(), "new");
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world");  // untouched until commit
    // moving the upload keeps it alive
    root::upload moved = std::move(up);
    ASSERT_FALSE(moved.commit());
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "new");
    EXPECT_FALSE(has_temp_file(host_));
    struct stat st{};
    ASSERT_EQ(::stat((host_ + "/hello.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);  // permissions of the replaced file are kept
    EXPECT_TRUE(moved.commit());           // second commit is an error, not a crash

    // new file
    auto up2 = r_.begin_upload("/docs/new.bin", mode::replace, 0, ec);
    ASSERT_FALSE(ec);
    write_fd(up2.fd(), std::string("\0\1\2", 3));
    ASSERT_FALSE(up2.commit());
    EXPECT_EQ(slurp(host_ + "/docs/new.bin"), std::string("\0\1\2", 3));
}

TEST_F(vfs_root, replace_refuses_directories_and_missing_folders) {
    std::error_code ec;
    r_.begin_upload("/docs", mode::replace, 0, ec);
    EXPECT_EQ(ec, std::errc::is_a_directory);
    r_.begin_upload("/", mode::replace, 0, ec);
    EXPECT_TRUE(ec);
    r_.begin_upload("/nodir/x", mode::replace, 0, ec);
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
    r_.begin_upload("/.ferry-upload-x", mode::replace, 0, ec);
    EXPECT_EQ(ec, denied);
    // a directory appearing under the name during the upload makes commit fail cleanly
    auto up = r_.begin_upload("/late", mode::replace, 0, ec);
    ASSERT_FALSE(ec);
    fs::create_directory(host_ + "/late");
    EXPECT_TRUE(up.commit());
    EXPECT_TRUE(fs::is_directory(host_ + "/late"));
    EXPECT_FALSE(has_temp_file(host_));
}

TEST_F(vfs_root, append) {
    std::error_code ec;
    auto up = r_.begin_upload("/hello.txt", mode::append, 0, ec);
    ASSERT_FALSE(ec);
    write_fd(up.fd(), "!!");
    ASSERT_FALSE(up.commit());
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world!!");
    auto up2 = r_.begin_upload("/fresh.txt", mode::append, 0, ec);
    ASSERT_FALSE(ec);
    write_fd(up2.fd(), "abc");
    up2.abort();  // append writes in place: abort keeps what was written
    EXPECT_EQ(slurp(host_ + "/fresh.txt"), "abc");
    r_.begin_upload("/docs", mode::append, 0, ec);
    EXPECT_EQ(ec, std::errc::is_a_directory);
}

TEST_F(vfs_root, at_offset) {
    std::error_code ec;
    // A resume whose data never comes (no start_writing) leaves the file as it was.
    auto idle = r_.begin_upload("/hello.txt", mode::at_offset, 5, ec);
    ASSERT_FALSE(ec) << ec.message();
    idle.abort();
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world");
    auto up = r_.begin_upload("/hello.txt", mode::at_offset, 5, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world");
    ASSERT_FALSE(up.start_writing());
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello");  // cut at the offset once data comes
    write_fd(up.fd(), " there");
    ASSERT_FALSE(up.commit());
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello there");

    r_.begin_upload("/hello.txt", mode::at_offset, 12, ec);
    EXPECT_EQ(ec, std::errc::invalid_argument);
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello there");
    auto at_end = r_.begin_upload("/hello.txt", mode::at_offset, 11, ec);
    EXPECT_FALSE(ec);
    at_end.abort();

    r_.begin_upload("/missing.txt", mode::at_offset, 3, ec);
    EXPECT_EQ(ec, std::errc::no_such_file_or_directory);
    auto up0 = r_.begin_upload("/zero.txt", mode::at_offset, 0, ec);
    ASSERT_FALSE(ec);
    write_fd(up0.fd(), "z");
    ASSERT_FALSE(up0.commit());
    EXPECT_EQ(slurp(host_ + "/zero.txt"), "z");
}

TEST_F(vfs_root, interrupted_replace_keeps_a_hidden_partial_that_rest_continues) {
    std::error_code ec;
    auto up = r_.begin_upload("/hello.txt", mode::replace, 0, ec);
    ASSERT_FALSE(ec);
    write_fd(up.fd(), "HELLO W");
    EXPECT_EQ(up.keep_partial(), 7u);
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world");  // the old file is untouched
    EXPECT_EQ(r_.partial_size("/hello.txt"), std::optional<std::uint64_t>(7));
    EXPECT_FALSE(r_.partial_size("/c.txt"));
    auto names = r_.list("/", ec);
    for (const auto& e : names) EXPECT_FALSE(e.name.starts_with(".ferry-upload-")) << e.name;
    EXPECT_EQ(slurp(host_ + "/.ferry-upload-part.hello.txt"), "HELLO W");

    // REST beyond what was kept is refused; the partial stays.
    r_.begin_upload("/hello.txt", mode::at_offset, 8, ec);
    EXPECT_EQ(ec, std::errc::invalid_argument);
    // Interrupted again: the partial keeps what it has (truncated at the offset, then extended).
    auto again = r_.begin_upload("/hello.txt", mode::at_offset, 6, ec);
    ASSERT_FALSE(ec) << ec.message();
    write_fd(again.fd(), "WO");
    EXPECT_EQ(again.keep_partial(), 8u);
    auto aborted = r_.begin_upload("/hello.txt", mode::at_offset, 8, ec);
    ASSERT_FALSE(ec);
    aborted.abort();  // a refused transfer: the partial stays as it was
    EXPECT_EQ(r_.partial_size("/hello.txt"), std::optional<std::uint64_t>(8));
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world");

    auto rest = r_.begin_upload("/hello.txt", mode::at_offset, 8, ec);
    ASSERT_FALSE(ec);
    write_fd(rest.fd(), "RLD");
    ASSERT_FALSE(rest.commit());
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "HELLO WORLD");
    EXPECT_FALSE(r_.partial_size("/hello.txt"));
    EXPECT_FALSE(has_temp_file(host_));

    // A complete upload of the name supersedes a partial; an empty interruption keeps nothing.
    auto p1 = r_.begin_upload("/hello.txt", mode::replace, 0, ec);
    write_fd(p1.fd(), "x");
    EXPECT_EQ(p1.keep_partial(), 1u);
    auto empty = r_.begin_upload("/hello.txt", mode::replace, 0, ec);
    EXPECT_EQ(empty.keep_partial(), 0u);
    EXPECT_EQ(r_.partial_size("/hello.txt"), std::optional<std::uint64_t>(1));
    auto full = r_.begin_upload("/hello.txt", mode::replace, 0, ec);
    write_fd(full.fd(), "new");
    ASSERT_FALSE(full.commit());
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "new");
    EXPECT_FALSE(r_.partial_size("/hello.txt"));
    EXPECT_FALSE(has_temp_file(host_));

    // STOU keeps nothing of an interrupted upload; a partial name cannot be created by a client.
    auto u = r_.begin_upload("/fresh-unique", mode::unique, 0, ec);
    write_fd(u.fd(), "abc");
    EXPECT_EQ(u.keep_partial(), 0u);
    EXPECT_FALSE(std::filesystem::exists(host_ + "/fresh-unique"));
    r_.begin_upload("/.ferry-upload-part.hello.txt", mode::replace, 0, ec);
    EXPECT_EQ(ec, std::errc::permission_denied);
}

TEST_F(vfs_root, a_provisional_commit_replaces_at_once_and_settles_either_way) {
    std::error_code ec;
    // Kept: the new content stays, the previous file's hidden name is gone.
    auto up = r_.begin_upload("/hello.txt", mode::replace, 0, ec);
    write_fd(up.fd(), "second");
    ASSERT_FALSE(up.commit_provisionally());
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "second");  // in place before settling
    EXPECT_EQ(up.settle(true), 0u);
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "second");
    EXPECT_FALSE(has_temp_file(host_));

    // Rolled back: the previous file is back, the upload is the partial, REST continues it.
    auto bad = r_.begin_upload("/hello.txt", mode::replace, 0, ec);
    write_fd(bad.fd(), "THIRD-");
    ASSERT_FALSE(bad.commit_provisionally());
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "THIRD-");
    EXPECT_EQ(bad.settle(false), 6u);
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "second");
    EXPECT_EQ(r_.partial_size("/hello.txt"), std::optional<std::uint64_t>(6));
    auto rest = r_.begin_upload("/hello.txt", mode::at_offset, 6, ec);
    ASSERT_FALSE(ec);
    write_fd(rest.fd(), "UPLOAD");
    ASSERT_FALSE(rest.commit_provisionally());  // a continued partial too
    EXPECT_EQ(rest.settle(false), 12u);
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "second");
    EXPECT_EQ(slurp(host_ + "/.ferry-upload-part.hello.txt"), "THIRD-UPLOAD");

    // A new name rolled back disappears; an upload replaced meanwhile is left alone.
    auto fresh = r_.begin_upload("/fresh.bin", mode::replace, 0, ec);
    write_fd(fresh.fd(), "x");
    ASSERT_FALSE(fresh.commit_provisionally());
    EXPECT_EQ(fresh.settle(false), 1u);
    EXPECT_FALSE(std::filesystem::exists(host_ + "/fresh.bin"));
    auto raced = r_.begin_upload("/fresh.bin", mode::replace, 0, ec);
    write_fd(raced.fd(), "ours");
    ASSERT_FALSE(raced.commit_provisionally());
    { std::ofstream(host_ + "/fresh.bin.new") << "theirs"; }
    std::filesystem::rename(host_ + "/fresh.bin.new", host_ + "/fresh.bin");
    EXPECT_EQ(raced.settle(false), 0u);
    EXPECT_EQ(slurp(host_ + "/fresh.bin"), "theirs");

    // In-place uploads cannot commit provisionally (nothing is done).
    auto app = r_.begin_upload("/hello.txt", mode::append, 0, ec);
    EXPECT_EQ(app.commit_provisionally(), std::errc::operation_not_supported);
    app.abort();
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "second");
    std::filesystem::remove(host_ + "/.ferry-upload-part.hello.txt");
    std::filesystem::remove(host_ + "/.ferry-upload-part.fresh.bin");
    EXPECT_FALSE(has_temp_file(host_));
}

TEST_F(vfs_root, stale_upload_temporaries_are_removed_and_partials_kept) {
    std::filesystem::create_directories(host_ + "/deep/er");
    { std::ofstream(host_ + "/.ferry-upload-0123456789abcdef") << "a"; }
    { std::ofstream(host_ + "/deep/er/.ferry-upload-fedcba9876543210") << "b"; }
    { std::ofstream(host_ + "/deep/.ferry-upload-part.x.bin") << "kept"; }
    EXPECT_EQ(ferry::vfs::remove_stale_uploads(host_), 2u);
    EXPECT_FALSE(std::filesystem::exists(host_ + "/.ferry-upload-0123456789abcdef"));
    EXPECT_FALSE(std::filesystem::exists(host_ + "/deep/er/.ferry-upload-fedcba9876543210"));
    EXPECT_EQ(slurp(host_ + "/deep/.ferry-upload-part.x.bin"), "kept");
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world");
    std::filesystem::remove(host_ + "/deep/.ferry-upload-part.x.bin");
}

TEST_F(vfs_root, unique_names) {
    std::error_code ec;
    auto u1 = r_.begin_upload("/hello.txt", mode::unique, 0, ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(u1.final_name(), "/hello.txt.1");
    auto u2 = r_.begin_upload("/hello.txt", mode::unique, 0, ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(u2.final_name(), "/hello.txt.2");
    write_fd(u1.fd(), "one");
    ASSERT_FALSE(u1.commit());
    u2.abort();  // a failed STOU leaves no half file behind
    EXPECT_EQ(slurp(host_ + "/hello.txt.1"), "one");
    EXPECT_FALSE(fs::exists(host_ + "/hello.txt.2"));
    EXPECT_EQ(slurp(host_ + "/hello.txt"), "hello world");

    auto u3 = r_.begin_upload("/docs/ferry.upload", mode::unique, 0, ec);
    ASSERT_FALSE(ec);
    EXPECT_EQ(u3.final_name(), "/docs/ferry.upload");
    ASSERT_FALSE(u3.commit());
    EXPECT_TRUE(fs::exists(host_ + "/docs/ferry.upload"));
}

TEST_F(vfs_root, dirs_rename_remove) {
    EXPECT_FALSE(r_.make_dir("/new"));
    EXPECT_TRUE(fs::is_directory(host_ + "/new"));
    EXPECT_EQ(r_.make_dir("/new"), std::errc::file_exists);
    EXPECT_EQ(r_.make_dir("/a/b"), std::errc::no_such_file_or_directory);
    EXPECT_EQ(r_.make_dir("/.ferry-upload-x"), denied);
    EXPECT_TRUE(r_.make_dir("/"));

    EXPECT_EQ(r_.remove_dir("/docs"), std::errc::directory_not_empty);
    EXPECT_TRUE(fs::exists(host_ + "/docs/a.txt"));
    EXPECT_TRUE(r_.remove_dir("/"));
    EXPECT_FALSE(r_.remove_dir("/new"));
    EXPECT_FALSE(fs::exists(host_ + "/new"));

    EXPECT_FALSE(r_.rename("/hello.txt", "/docs/moved.txt"));
    EXPECT_EQ(slurp(host_ + "/docs/moved.txt"), "hello world");
    EXPECT_FALSE(fs::exists(host_ + "/hello.txt"));
    EXPECT_TRUE(r_.rename("/", "/x"));
    EXPECT_TRUE(r_.rename("/docs", "/"));
    EXPECT_EQ(r_.rename("/missing", "/x"), std::errc::no_such_file_or_directory);
    EXPECT_EQ(r_.rename("/docs/moved.txt", "/.ferry-upload-1"), denied);

    EXPECT_FALSE(r_.remove_file("/docs/moved.txt"));
    EXPECT_FALSE(fs::exists(host_ + "/docs/moved.txt"));
    EXPECT_EQ(r_.remove_file("/docs/moved.txt"), std::errc::no_such_file_or_directory);
    EXPECT_TRUE(r_.remove_file("/docs"));  // EISDIR
    EXPECT_TRUE(r_.remove_file("/"));
}

TEST_F(vfs_root, chmod_sets_no_special_bits_and_leaves_the_home_folder_alone) {
    const auto refused = std::make_error_code(std::errc::operation_not_permitted);
    EXPECT_EQ(r_.chmod("/hello.txt", 04755), refused);
    EXPECT_EQ(r_.chmod("/hello.txt", 02755), refused);
    EXPECT_EQ(r_.chmod("/docs", 01777), refused);
    EXPECT_EQ(r_.chmod("/", 0700), refused);
    struct stat st{};
    ASSERT_EQ(::stat((host_ + "/hello.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07000, 0u);
}

TEST_F(vfs_root, names_with_cr_or_lf_are_not_created_nor_listed) {
    std::error_code ec;
    const auto denied = std::make_error_code(std::errc::permission_denied);
    EXPECT_EQ(r_.make_dir("/a\nb"), denied);
    r_.begin_upload("/x\r\n226 ok", mode::replace, 0, ec);
    EXPECT_EQ(ec, denied);
    EXPECT_EQ(r_.rename("/hello.txt", "/evil\r\n"), denied);
    // One made outside FTP is left out of listings.
    { std::ofstream(host_ + "/bad\nname") << "x"; }
    auto entries = r_.list("/", ec);
    ASSERT_FALSE(ec);
    for (const auto& e : entries) EXPECT_EQ(e.name.find_first_of("\r\n"), std::string::npos) << e.name;
    EXPECT_TRUE(std::any_of(entries.begin(), entries.end(), [](const auto& e) { return e.name == "hello.txt"; }));
    std::filesystem::remove(host_ + "/bad\nname");
}

TEST_F(vfs_root, chmod_and_set_mtime) {
    EXPECT_FALSE(r_.chmod("/hello.txt", 0600));
    EXPECT_FALSE(r_.set_mtime("/hello.txt", 1700000000));
    ferry::proto::file_info info;
    ASSERT_FALSE(r_.stat("/hello.txt", info));
    EXPECT_EQ(info.mode, 0600u);
    EXPECT_EQ(info.mtime, 1700000000);
    EXPECT_FALSE(r_.chmod("/docs", 0750));
    ASSERT_FALSE(r_.stat("/docs", info));
    EXPECT_EQ(info.mode, 0750u);
    EXPECT_EQ(r_.chmod("/missing", 0600), std::errc::no_such_file_or_directory);
    EXPECT_EQ(r_.set_mtime("/missing", 0), std::errc::no_such_file_or_directory);
}

// Issue 10: a listing of a huge folder streams in bounded memory. read_dir() did not exist before
// (this test does not build on the old code). Every entry comes exactly once, in batches no
// larger than asked, upload temp files stay hidden, and the end is an empty batch.
TEST_F(vfs_root, dir_reader_returns_every_entry_once_in_bounded_batches) {
    ASSERT_TRUE(fs::create_directory(host_ + "/many"));
    for (int i = 0; i < 1000; ++i) spit(host_ + "/many/f" + std::to_string(i), "x");
    spit(host_ + "/many/.ferry-upload-0123", "partial");
    std::error_code ec;
    auto reader = r_.read_dir("/many", ec);
    ASSERT_FALSE(ec) << ec.message();
    std::set<std::string> seen;
    for (;;) {
        auto batch = reader.next(64, ec);
        ASSERT_FALSE(ec) << ec.message();
        ASSERT_LE(batch.size(), 64u);
        if (batch.empty()) break;
        for (const auto& e : batch) EXPECT_TRUE(seen.insert(e.name).second) << e.name << " twice";
    }
    EXPECT_EQ(seen.size(), 1000u);
    EXPECT_FALSE(seen.count(".ferry-upload-0123"));
    EXPECT_TRUE(reader.next(64, ec).empty());  // stays at the end
    r_.read_dir("/../outside", ec);
    EXPECT_TRUE(ec);  // confined like every other access
    r_.read_dir("/many/f1", ec);
    EXPECT_EQ(ec, std::errc::not_a_directory);
}
