#pragma once
// Text from the other side (file names, user names, reply text) made safe to show on a terminal
// or write to a log: control characters (C0, DEL, and C1 in UTF-8) become \xHH, so no escape
// sequence, carriage return or line break of a peer's choosing reaches the screen or the log.
#include <string>
#include <string_view>

namespace ferry::proto {

std::string printable(std::string_view text);

}  // namespace ferry::proto
