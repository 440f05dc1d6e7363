#pragma once
// Editing the virtual users file ("name:crypt-hash:home-folder[:options]" per line, users_file.hpp) for
// `ferryd user add|del|passwd|list`, as Pure-FTPd's pure-pw edits its file: comments, blank
// lines and the order of the other lines are kept as written; the file is replaced atomically.
// No Asio/OpenSSL types here.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::auth {

// What is wrong with a user name for the users file (a ':' or a newline would break its lines, a
// leading '#' would make a comment), or nothing.
std::optional<std::string> check_user_name(std::string_view name);

// A users file as lines, for editing. Every change keeps the other lines byte for byte.
class users_edit {
public:
    // Reads text (file_name for the messages); refuses a file users_file would refuse.
    bool parse(std::string_view text, std::string_view file_name, std::string& error);

    struct entry {
        std::string name;
        std::string home;     // as written
        std::string options;  // as written (users_file.hpp), or empty
    };
    std::vector<entry> list() const;

    // add: name must be new; passwd (set_hash) and remove: it must exist. Each returns false with
    // a message naming the user when it cannot be done.
    // options: as in the users file ("readonly,download=1M"), or empty.
    bool add(std::string_view name, std::string_view hash, std::string_view home, std::string_view options,
             std::string& error);
    bool set_hash(std::string_view name, std::string_view hash, std::string& error);
    bool remove(std::string_view name, std::string& error);

    // The file's new text (ends with a newline unless empty).
    std::string text() const;

private:
    // index of the user's line, or npos
    std::size_t find(std::string_view name) const;
    std::vector<std::string> lines_;
};

// A yescrypt ("$y$") hash of password with a fresh salt from the OS (libxcrypt's default cost).
std::string make_yescrypt_hash(std::string_view password);

// Replaces the file at path with text atomically: a temporary file in the same folder, written,
// fsync'ed, given the old file's mode and owner (a new file: mode 0600), renamed over it, and the
// folder fsync'ed. A symbolic link is followed (its target is replaced). On failure the old file
// is untouched and error says why.
bool replace_file_atomically(const std::string& path, std::string_view text, std::string& error);

}  // namespace ferry::auth
