// Dialogues with the server's command core, byte for byte, in-process: a real server::session
// (its command table, policy, file system work and replies) over scripted_link instead of a
// socket, one thread, worker pools that run their jobs inline. Each file in dialogues/ is one
// dialogue (format in dialogues/README.md). Each runs twice over:
//   replies       the whole dialogue: every line the session sends and every TLS event, in
//                 order, equal to the file's; then the files on disk it names.
//   lost_peer     once per network operation of that dialogue, with that operation failing
//                 (the client vanishes, a write fails, a handshake breaks): the session must end
//                 on its own, give back its place in the limits and its passive port, close
//                 the connection, leave no coroutine, timer or object behind, and have sent
//                 exactly the start of the full dialogue.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "auth/users_file.hpp"
#include "scripted_link.hpp"
#include "server/server_context.hpp"
#include "server/session.hpp"
#include "server/work_pool.hpp"
#include "tls/context.hpp"

namespace fs = std::filesystem;
using namespace ferry;

namespace {

struct dialogue {
    std::string name;
    std::vector<std::string> config;  // server statements
    std::string certmap;              // CERTMAP file text
    tls::stream::peer_identity certificate;
    bool implicit = false;
    std::vector<std::pair<std::string, std::string>> files;  // created in alice's home before
    std::vector<std::string> dirs;
    std::vector<std::string> expected;  // "> ", "< ", "-- " lines
    std::vector<std::string> after;     // checks on alice's home afterwards
};

// "{x*600}" stands for 600 x's (long arguments stay readable).
std::string expand(std::string s) {
    static const std::regex rep(R"(\{(.)\*(\d+)\})");
    std::smatch m;
    while (std::regex_search(s, m, rep))
        s = m.prefix().str() + std::string(std::stoul(m[2].str()), m[1].str()[0]) + m.suffix().str();
    return s;
}

std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'r' || s[i + 1] == 'n')) {
            out += s[i + 1] == 'r' ? '\r' : '\n';
            ++i;
        } else {
            out += s[i];
        }
    }
    return out;
}

dialogue read_dialogue(const fs::path& file) {
    dialogue d;
    d.name = file.stem().string();
    std::ifstream in(file);
    std::string line;
    auto value = [&](std::string_view key) { return line.substr(key.size()); };
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("> ", 0) == 0 || line.rfind("< ", 0) == 0 || line.rfind("-- ", 0) == 0)
            d.expected.push_back(expand(line));
        else if (line.rfind("config: ", 0) == 0)
            d.config.push_back(value("config: "));
        else if (line.rfind("certmap: ", 0) == 0)
            d.certmap += value("certmap: ") + "\n";
        else if (line.rfind("certificate: ", 0) == 0) {
            // subject | issuer | fingerprint
            std::string v = value("certificate: ");
            auto a = v.find(" | "), b = v.rfind(" | ");
            d.certificate = {true, v.substr(b + 3), v.substr(0, a), v.substr(a + 3, b - a - 3)};
        } else if (line == "implicit: yes")
            d.implicit = true;
        else if (line.rfind("file: ", 0) == 0) {
            std::string v = value("file: ");
            auto sp = v.find(' ');
            d.files.emplace_back(v.substr(0, sp), sp == std::string::npos ? "" : unescape(v.substr(sp + 1)));
        } else if (line.rfind("dir: ", 0) == 0)
            d.dirs.push_back(value("dir: "));
        else if (line.rfind("after: ", 0) == 0)
            d.after.push_back(value("after: "));
        else
            throw std::runtime_error(file.string() + ": cannot read line: " + line);
    }
    return d;
}

std::vector<fs::path> dialogue_files() {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(FERRY_TRANSCRIPT_DIR))
        if (e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

// What every dialogue shares: a certificate (the scripted link does no TLS, but AUTH needs a
// configured context) and the users' password hashes.
struct fixture_files {
    fs::path dir;
    std::shared_ptr<tls::context> tls;
    std::string alice_hash = auth::make_sha512_hash("secret");
    std::string bob_hash = auth::make_sha512_hash("bobpass");
    fixture_files() {
        std::string tmpl = (fs::temp_directory_path() / "ferry-transcript-XXXXXX").string();
        dir = ::mkdtemp(tmpl.data());
        std::string error;
        const std::string pem = (dir / "server.pem").string();
        if (!tls::generate_self_signed(pem, "localhost", "DNS:localhost", 1, error)) throw std::runtime_error(error);
        tls::server_options o;
        o.keyring = pem;
        tls = tls::context::make_server(o, error);
        if (!tls) throw std::runtime_error(error);
    }
    ~fixture_files() { fs::remove_all(dir); }
};

fixture_files& shared_files() {
    static fixture_files f;
    return f;
}

struct outcome {
    std::shared_ptr<transcript::link_record> rec = std::make_shared<transcript::link_record>();
    bool ended = false;            // run() returned
    bool io_done = false;          // nothing left on the event loop
    bool session_gone = false;     // the session object was destroyed
    std::size_t sessions_left = 0; // places still held in the session limits
    std::string exception;
    std::string log;
    fs::path home;
};

outcome run(const dialogue& d, std::size_t fail_at, const fs::path& work) {
    outcome out;
    auto& shared = shared_files();
    fs::create_directories(work / "alice");
    fs::create_directories(work / "bob");
    out.home = work / "alice";
    for (const auto& dir : d.dirs) fs::create_directories(out.home / dir);
    for (const auto& [name, content] : d.files) std::ofstream(out.home / name) << content;

    auto ctx = std::make_shared<server::server_context>();
    const std::string pem = (shared.dir / "server.pem").string();
    std::string text = "KEYRING " + pem + "\nCAFILE " + pem + "\n";
    for (const auto& c : d.config) text += c + "\n";
    if (!d.certmap.empty()) {
        std::ofstream(work / "certmap") << d.certmap;
        text += "CERTMAP " + (work / "certmap").string() + "\n";
    }
    std::string error;
    if (!config::parse_server_settings(text, "dialogue", ctx->settings, error)) throw std::runtime_error(error);
    const std::string users = "alice:" + shared.alice_hash + ":" + (work / "alice").string() + "\n" + "bob:" +
                              shared.bob_hash + ":" + (work / "bob").string() + "\n";
    if (!ctx->users.parse(users, "users", work.string(), error)) throw std::runtime_error(error);
    if (!d.certmap.empty() && !ctx->certs.parse(d.certmap, "certmap", error)) throw std::runtime_error(error);
    std::ostringstream log_text;
    ctx->log = std::make_shared<spdlog::logger>("transcript", std::make_shared<spdlog::sinks::ostream_sink_st>(log_text));
    ctx->log->set_level(spdlog::level::debug);
    ctx->set_tls(shared.tls);

    server::work_pool hash(server::work_pool::inline_jobs), disk(server::work_pool::inline_jobs),
        bulk(server::work_pool::inline_jobs), digest(server::work_pool::inline_jobs);
    const server::worker_pools pools{hash, disk, bulk, digest};
    asio::io_context io;
    {
        std::string why;
        auto slot = ctx->limits.admit("127.0.0.1", 0, 0, why);
        transcript::link_script script;
        for (const auto& line : d.expected)
            if (line.rfind("> ", 0) == 0) script.chunks.push_back(unescape(line.substr(2)) + "\r\n");
        script.certificate = d.certificate;
        script.fail_at = fail_at;
        auto link = std::make_unique<transcript::scripted_link>(io, std::move(script), out.rec);
        auto s = std::make_shared<server::session>(ctx, std::move(link), d.implicit, 1, std::move(slot),
                                                   pools);
        std::weak_ptr<server::session> watch = s;
        s->start([&out](std::exception_ptr e) {
            out.ended = true;
            if (e) try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    out.exception = ex.what();
                }
        });
        s.reset();
        // Bounded: a session that does not end (a timer or coroutine left behind) shows as
        // !io_done long before CTest's limit.
        io.run_for(std::chrono::seconds(20));
        out.io_done = io.stopped();
        out.session_gone = watch.expired();
    }
    out.sessions_left = ctx->limits.total();
    ctx->log->flush();
    out.log = log_text.str();
    return out;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

void expect_clean_end(const outcome& o, const std::string& what) {
    EXPECT_TRUE(o.ended) << what << ": the session did not end\n" << o.log;
    EXPECT_TRUE(o.io_done) << what << ": work left on the event loop\n" << o.log;
    EXPECT_TRUE(o.session_gone) << what << ": the session object outlived its run\n" << o.log;
    EXPECT_EQ(o.sessions_left, 0u) << what << ": the session's place in the limits was kept";
    EXPECT_EQ(o.rec->passive_open, 0) << what << ": a passive listener was left open";
    EXPECT_TRUE(o.rec->closed) << what << ": the control connection was not closed";
    EXPECT_EQ(o.exception, "") << what;
}

class transcript_test : public ::testing::TestWithParam<fs::path> {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "ferry-dialogue-XXXXXX").string();
        work_ = ::mkdtemp(tmpl.data());
    }
    void TearDown() override { fs::remove_all(work_); }
    fs::path work_;
};

// FERRY_TRANSCRIPT_RECORD=1 writes what the session did into the dialogue file in place of its
// expected lines (headers, comments and checks kept), for writing a new dialogue: read the result
// before committing it, it is the specification from then on.
void record(const fs::path& file, const std::vector<std::string>& lines) {
    std::ifstream in(file);
    std::vector<std::string> head, tail;
    std::string line;
    bool seen_dialogue = false;
    while (std::getline(in, line)) {
        const bool dialogue_line = line.rfind("> ", 0) == 0 || line.rfind("< ", 0) == 0 || line.rfind("-- ", 0) == 0;
        if (dialogue_line)
            seen_dialogue = true;
        else
            (seen_dialogue ? tail : head).push_back(line);
    }
    in.close();
    std::ofstream out(file);
    for (const auto& l : head) out << l << "\n";
    for (const auto& l : lines) out << l << "\n";
    for (const auto& l : tail) out << l << "\n";
}

TEST_P(transcript_test, replies) {
    const dialogue d = read_dialogue(GetParam());
    ASSERT_FALSE(d.expected.empty());
    const outcome o = run(d, 0, work_ / "full");
    if (std::getenv("FERRY_TRANSCRIPT_RECORD")) record(GetParam(), o.rec->lines);
    EXPECT_EQ(joined(o.rec->lines), joined(d.expected)) << "server log:\n" << o.log;
    expect_clean_end(o, "full dialogue");
    for (const auto& check : d.after) {
        std::istringstream words(check);
        std::string verb, name;
        words >> verb >> name;
        const fs::path p = o.home / name;
        if (verb == "exists") {
            EXPECT_TRUE(fs::exists(p)) << check;
        } else if (verb == "absent") {
            EXPECT_FALSE(fs::exists(p)) << check;
        } else if (verb == "dir") {
            EXPECT_TRUE(fs::is_directory(p)) << check;
        } else if (verb == "content") {
            std::string want;
            std::getline(words >> std::ws, want);
            std::ifstream in(p);
            std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            EXPECT_EQ(got, want) << check;
        } else {
            ADD_FAILURE() << "unknown check: " << check;
        }
    }
}

TEST_P(transcript_test, lost_peer) {
    const dialogue d = read_dialogue(GetParam());
    const outcome full = run(d, 0, work_ / "full");
    const std::size_t steps = full.rec->operations;
    ASSERT_GT(steps, 0u);
    for (std::size_t k = 1; k <= steps; ++k) {
        const std::string what = "network failure at operation " + std::to_string(k) + " of " + std::to_string(steps);
        const outcome o = run(d, k, work_ / ("fail" + std::to_string(k)));
        EXPECT_TRUE(o.rec->failed) << what;
        expect_clean_end(o, what);
        // What was sent before the failure is the dialogue's own start (a session whose client
        // vanished still closes its side: the one event the full dialogue may not have there).
        std::vector<std::string> lines = o.rec->lines;
        if (!lines.empty() && lines.back() == "-- close") lines.pop_back();
        ASSERT_LE(lines.size(), full.rec->lines.size()) << what;
        EXPECT_EQ(joined(lines), joined({full.rec->lines.begin(), full.rec->lines.begin() + lines.size()})) << what;
        if (::testing::Test::HasFailure()) break;  // one broken step is enough to read
    }
}

INSTANTIATE_TEST_SUITE_P(dialogues, transcript_test, ::testing::ValuesIn(dialogue_files()),
                         [](const ::testing::TestParamInfo<fs::path>& info) {
                             std::string n = info.param.stem().string();
                             std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
                             return n;
                         });

}  // namespace
