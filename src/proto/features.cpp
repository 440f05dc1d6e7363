#include "proto/features.hpp"

#include "proto/command.hpp"
#include "proto/reply_code.hpp"

namespace ferry::proto {

std::string feat_reply_text(const std::vector<std::string>& features) {
    std::string text = "Features:\n";
    for (const auto& f : features) text += f + "\n";
    return text + "End";
}

feature_set::feature_set(const reply& feat) {
    if (feat.code != code::system_status) return;
    // The first and last lines are "211-Features:" and "211 End"; the ones between are features.
    for (std::size_t i = 1; i + 1 < feat.lines.size(); ++i) {
        std::string_view l = feat.lines[i];
        while (!l.empty() && l.front() == ' ') l.remove_prefix(1);
        std::string name = upper(l.substr(0, l.find(' ')));
        if (!name.empty()) names_.insert(std::move(name));
    }
}

bool feature_set::has(std::string_view name) const { return names_.count(upper(name)) > 0; }

}  // namespace ferry::proto
