// auth::users_file::parse on arbitrary text. Invariants: a refusal reads
// "fuzz.users:<line>: <message>" naming a line that exists; an accepted file gives users with a
// non-empty name free of ':' and line ends, an absolute home folder, and find() returns each
// user (the first of a name wins if the parser allows repeats).
#include <cstdint>
#include <string>

#include "auth/users_file.hpp"
#include "fuzz_check.hpp"

using ferry::fuzz::show;
using namespace ferry::auth;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    users_file users;
    std::string error;
    if (!users.parse(text, "fuzz.users", "/srv/ftp", error)) {
        ferry::fuzz::check_file_line_error(error, "fuzz.users", text);
        return 0;
    }
    for (const auto& u : users.all()) {
        FUZZ_CHECK(!u.name.empty(), "a user without a name from " + show(text));
        FUZZ_CHECK(u.name.find_first_of(":\r\n") == std::string::npos, "name " + show(u.name));
        FUZZ_CHECK(!u.home.empty() && u.home.front() == '/', "home not absolute: " + show(u.home));
        const user* found = users.find(u.name);
        FUZZ_CHECK(found != nullptr && found->name == u.name, "find() misses " + show(u.name));
    }
    return 0;
}
