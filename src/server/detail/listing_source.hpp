#pragma once
// A listing being produced (listing.cpp): shared by the listing commands, STAT and the transfer.
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "proto/listing.hpp"
#include "server/session.hpp"
#include "vfs/root.hpp"

namespace ferry::server {

struct session::listing_source {
    vfs::root::dir_reader reader;
    std::vector<proto::file_info> pending;  // read, not yet formatted
    std::size_t next_pending = 0;
    bool reader_done = true;
    char style = 'L';  // 'L' LIST, 'N' NLST, 'M' MLSD
    proto::mlst_facts facts;
    std::int64_t now = 0;
    std::string head;  // MLSD's "." entry

    // The next piece of text (about 64 KiB), empty at the end. Blocks on the disk: run it on the
    // disk pool, one call at a time.
    std::string next(std::error_code& ec);

private:
    void format(const proto::file_info& e, std::string& out) const;
};

}  // namespace ferry::server
