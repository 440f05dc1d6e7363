#pragma once
// A folder under /tmp for one test, removed with everything in it when the test ends.
#include <stdlib.h>

#include <filesystem>
#include <string>

struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(const std::string& prefix = "ferry-test") {
        std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
        path = ::mkdtemp(tmpl.data());
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};
