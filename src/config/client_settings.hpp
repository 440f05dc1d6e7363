#pragma once
// The client's settings (client FTP.DATA-style file, command-line options, LOCSITE).
#include <string>

namespace ferry::config {

struct client_settings {
    // Filled in by the client work (issue 3).
};

}  // namespace ferry::config
