#pragma once
// FEAT (RFC 2389 section 3): both halves of the wire format, the server's reply text and the
// client's reading of it. Sans-I/O.
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "proto/reply.hpp"

namespace ferry::proto {

// The text of the 211 reply for these feature lines ("MLST type*;size*;", "REST STREAM", ...):
// "Features:", one line each, "End". format_reply() indents the middle lines by one space.
std::string feat_reply_text(const std::vector<std::string>& features);

// The features a server announced, by name: the first word of each feature line, upper-cased
// (RFC 2389: feature names are case-insensitive). Empty unless the reply is a 211.
class feature_set {
public:
    feature_set() = default;
    explicit feature_set(const reply& feat);
    bool has(std::string_view name) const;
    bool empty() const { return names_.empty(); }
    const std::set<std::string>& names() const { return names_; }

private:
    std::set<std::string> names_;
};

}  // namespace ferry::proto
