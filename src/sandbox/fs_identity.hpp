#pragma once
// A system user's file operations with that user's rights (SYSTEMUSERS ON): the calling thread's
// file-system uid and gid and its supplementary groups become the user's for the span of one
// disk job, so the kernel checks every open, create, rename and unlink exactly as for that
// user's own shell, and what is created belongs to the user. Linux keeps these per thread (the
// raw system calls, not glibc's wrappers that copy the change to every thread), so the other
// threads keep serving other users meanwhile. Needs CAP_SETUID and CAP_SETGID, which ferryd
// keeps for this alone when SYSTEMUSERS is ON (sandbox::plan::keep_identity_switch).
#include <sys/types.h>

#include <vector>

namespace ferry::sandbox {

struct fs_identity {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

class acting_as {
public:
    // Throws std::system_error when the thread cannot take the identity (nothing is then changed).
    explicit acting_as(const fs_identity& id);
    // Back to the process's own identity; aborts the process if that fails, because the thread
    // would otherwise go on serving other users with this one's rights.
    ~acting_as();
    acting_as(const acting_as&) = delete;
    acting_as& operator=(const acting_as&) = delete;

private:
    uid_t own_uid_;
    gid_t own_gid_;
    std::vector<gid_t> own_groups_;
};

}  // namespace ferry::sandbox
