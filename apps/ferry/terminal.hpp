#pragma once
// Terminal helpers for the ferry CLI: password and yes/no prompts on /dev/tty, line editing at
// the interactive prompt (libedit when built with it), and the transfer progress bar.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "client/listing_format.hpp"

namespace ferry::cli {

bool stdin_is_tty();
bool stdout_is_tty();

// Reads a line from the terminal with echo off. nullopt when there is no terminal.
std::optional<std::string> prompt_hidden(const std::string& prompt);
// Reads a line from the terminal with echo on. nullopt when there is no terminal.
std::optional<std::string> prompt_line(const std::string& prompt);

// The interactive prompt: line editing and history (~/.local/state/ferry/history) when available.
class line_editor {
public:
    line_editor();
    ~line_editor();
    std::optional<std::string> read(const std::string& prompt);

private:
    std::string history_file_;
};

// "\r name  45%  4.5 MiB/10.0 MiB  12.3 MiB/s  ETA 0:01" on stdout, at most five times a second.
class progress_bar {
public:
    explicit progress_bar(std::string name, bool enabled) : name_(std::move(name)), enabled_(enabled) {}
    ~progress_bar() { finish(); }
    void update(std::uint64_t done, std::uint64_t total);
    void finish();

private:
    std::string name_;
    bool enabled_;
    bool shown_ = false;
    std::uint64_t first_done_ = UINT64_MAX;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_{};
};

using client::human_bytes;
using client::human_rate;

}  // namespace ferry::cli
