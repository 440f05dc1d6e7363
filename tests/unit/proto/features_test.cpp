// FEAT: what the server formats is what the client reads (both halves live in proto).
#include <gtest/gtest.h>

#include "proto/features.hpp"
#include "proto/reply.hpp"

using namespace ferry::proto;

namespace {

// The reply as a client receives it: format_reply's wire text fed line by line to the parser.
reply over_the_wire(int code, const std::string& text) {
    const std::string wire = format_reply(code, text);
    reply_parser p;
    std::size_t pos = 0;
    while (pos < wire.size()) {
        auto eol = wire.find("\r\n", pos);
        auto s = p.feed_line(std::string_view(wire).substr(pos, eol - pos));
        pos = eol + 2;
        if (s == reply_parser::status::done) return p.take();
        EXPECT_EQ(s, reply_parser::status::need_more) << wire;
    }
    ADD_FAILURE() << "reply never ended: " << wire;
    return {};
}

}  // namespace

TEST(Features, ServerTextIsAnRfc2389ListOfIndentedLines) {
    EXPECT_EQ(format_reply(211, feat_reply_text({"AUTH TLS", "MLST type*;size*;", "UTF8"})),
              "211-Features:\r\n AUTH TLS\r\n MLST type*;size*;\r\n UTF8\r\n211 End\r\n");
}

TEST(Features, ClientReadsWhatTheServerSends) {
    feature_set f(over_the_wire(211, feat_reply_text({"AUTH TLS", "PBSZ", "MLST type*;size*;", "REST STREAM"})));
    EXPECT_TRUE(f.has("AUTH"));
    EXPECT_TRUE(f.has("mlst")) << "feature names are case-insensitive";
    EXPECT_TRUE(f.has("REST"));
    EXPECT_FALSE(f.has("EPSV"));
    EXPECT_FALSE(f.has("Features:")) << "the first line is not a feature";
    EXPECT_FALSE(f.has("END")) << "neither is the last";
    EXPECT_EQ(f.names().size(), 4u);
}

TEST(Features, OtherServersSpellings) {
    // Lower case, no leading space (some servers), an empty line: all read sensibly.
    reply r{211, {"Extensions supported:", "mdtm", "", "size ", "End"}};
    feature_set f(r);
    EXPECT_TRUE(f.has("MDTM"));
    EXPECT_TRUE(f.has("SIZE"));
    EXPECT_EQ(f.names().size(), 2u);
}

TEST(Features, ARefusedFeatKnowsNothing) {
    feature_set f(reply{500, {"FEAT not understood"}});
    EXPECT_TRUE(f.empty());
    EXPECT_FALSE(f.has("FEAT"));
}
