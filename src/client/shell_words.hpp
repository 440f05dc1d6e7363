#pragma once
// The words of a ferry command line, and the path and pattern rules its commands apply to them.
// Pure functions: the CLI's parsing can be tested without a terminal or a server.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/list_parse.hpp"

namespace ferry::client {

// Words of a command line: white space separates, "double" or 'single' quotes group, and a
// backslash escapes the next character (outside single quotes). nullopt + error on an
// unterminated quote.
std::optional<std::vector<std::string>> split_words(std::string_view line, std::string& error);

// The text after the command word, as typed, without surrounding white space (quote, site and
// locsite send it unchanged).
std::string rest_of_line(std::string_view line);

std::string lower(std::string s);

// The last component of a path ("a/b/" -> "b", "/" -> ""), and the folder that holds it
// ("a/b" -> "a", "/b" -> "/", "b" -> "").
std::string base_name(const std::string& path);
std::string dir_name(const std::string& path);
// dir/name, with dir "" meaning the current remote folder.
std::string join_remote(const std::string& dir, const std::string& name);

bool has_glob(std::string_view s);

// mget's expansion of a remote pattern ("dir/*.csv") against the listing of its folder: the
// matching plain files as remote paths, in listing order. SECURITY: the names come from the
// server: '*' matches no dot-file (as in a shell), and a name that could not be a local file
// name (empty, ".", "..", control characters) is never returned but put in skipped.
std::vector<std::string> remote_glob_matches(const proto::listing& listing, const std::string& pattern,
                                             std::vector<std::string>& skipped);

// A raw command (quote, site) that would leave the session out of step with the server: it
// opens a data connection or changes the control connection's security. Lower-case verb, or
// empty when the command is harmless.
std::string desynchronising_verb(std::string_view command);

}  // namespace ferry::client
