#pragma once
// MAXSESSIONS, MAXSESSIONSPERHOST, MAXSESSIONSPERUSER and the per-user share of PASSIVEDATAPORTS,
// counted for the whole server (every event thread). A session holds a slot from connect to
// close; the slot gives back what it counted when it is destroyed. Thread-safe: one mutex,
// taken at connect, login, PASV/EPSV and close.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace ferry::server {

class session_limits;

class session_slot {
public:
    using counts = std::map<std::string, std::size_t>;  // per host or user
    session_slot() = default;
    session_slot(session_slot&& o) noexcept { *this = std::move(o); }
    session_slot& operator=(session_slot&& o) noexcept;
    ~session_slot() { release(); }
    bool valid() const { return limits_ != nullptr; }

    // At login: counts the session for user, or says why not (MAXSESSIONSPERUSER).
    bool enter_user(const std::string& user, unsigned max_per_user, std::string& why);
    void leave_user();  // logout (REIN)
    // PASV/EPSV: one listener at a time per session, and at most `share` per user.
    bool take_passive(unsigned share);
    void drop_passive();

private:
    friend class session_limits;
    void release();
    session_limits* limits_ = nullptr;
    // This slot's entries in the counts (per_host_, and per_user_ while has_user_): an entry
    // stays while its count is above 0, so at least while this slot counts in it. Iterators, not
    // copies of the names: every idle session pays for its slot.
    counts::iterator host_;
    counts::iterator user_;
    bool has_user_ = false;
    bool passive_ = false;
};

class session_limits {
public:
    // A slot for a new connection from host, or an invalid one with the reason for the 421 in why.
    // 0 means no limit.
    session_slot admit(const std::string& host, unsigned max_total, unsigned max_per_host, std::string& why);
    std::size_t total() const;
    std::size_t sessions_of(const std::string& user) const;
    std::size_t passive_of(const std::string& user) const;
    // Passive listeners (PASV/EPSV) held now by every session: the METRICS gauge
    // ferry_passive_ports_in_use, read at each scrape.
    std::size_t passive_in_use() const;

    // PASV listeners one user may hold at once: a quarter of PASSIVEDATAPORTS (at least 4, or the
    // whole range when it is smaller), so that one user cannot take every port while others get
    // 425. 0: no share limit (no range configured: the ephemeral ports are plenty).
    static unsigned passive_share(std::uint16_t low, std::uint16_t high);

private:
    friend class session_slot;
    mutable std::mutex mutex_;
    std::size_t total_ = 0;
    std::size_t passive_total_ = 0;
    session_slot::counts per_host_;
    session_slot::counts per_user_;
    session_slot::counts passive_per_user_;
};

}  // namespace ferry::server
