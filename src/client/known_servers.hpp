#pragma once
// Trust on first use: "host:port SHA256:..." lines in ~/.config/ferry/known_servers, written when
// the user accepts an untrusted server certificate at the prompt.
#include <string>
#include <string_view>
#include <vector>

namespace ferry::client {

enum class known_status { unknown, match, mismatch };

class known_servers {
public:
    // $FERRY_KNOWN_SERVERS, else $XDG_CONFIG_HOME/ferry/known_servers, else ~/.config/ferry/known_servers
    static std::string default_path();

    void parse(std::string_view text);
    // A missing file is an empty list, not an error.
    bool load(const std::string& path, std::string& error);
    known_status lookup(std::string_view host_port, std::string_view fingerprint) const;
    // The fingerprint recorded for host_port, or empty.
    std::string recorded(std::string_view host_port) const;
    // Appends (or replaces) the entry and writes the file (mode 0600, folders created).
    bool remember(const std::string& path, std::string_view host_port, std::string_view fingerprint,
                  std::string& error);

private:
    struct entry {
        std::string host_port, fingerprint;
    };
    std::vector<entry> entries_;
};

}  // namespace ferry::client
