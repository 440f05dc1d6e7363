#pragma once
// Argument checks shared by the statement tables: each returns false with a message.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "config/statement.hpp"

namespace ferry::config::detail {

bool want_args(const statement& st, std::size_t lo, std::size_t hi, std::string_view syntax, std::string& err);
// Case-insensitive choice among allowed words; returns the index, or -1 with a message.
int choice(const statement& st, std::size_t i, std::initializer_list<std::string_view> allowed, std::string& err);
bool number(const statement& st, std::size_t i, unsigned long lo, unsigned long hi, unsigned long& out,
            std::string& err);
// A rate in bytes a second: 0 (no limit), or a number from 1024 with an optional K, M or G
// (1024, 1024^2, 1024^3; either case), such as 512K or 10M.
bool rate(const statement& st, std::size_t i, std::uint64_t& out, std::string& err);
// Numeric IPv4/IPv6 text only; host names would make listeners depend on DNS at start.
bool ip_literal(std::string_view s);

}  // namespace ferry::config::detail
