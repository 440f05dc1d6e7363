#include "server/session_limits.hpp"

#include <algorithm>
#include <utility>

namespace ferry::server {

namespace {
void decrement(session_slot::counts& m, session_slot::counts::iterator it) {
    if (--it->second == 0) m.erase(it);
}
}  // namespace

session_slot session_limits::admit(const std::string& host, unsigned max_total, unsigned max_per_host,
                                   std::string& why) {
    session_slot slot;
    std::lock_guard lock(mutex_);
    // SECURITY: resource exhaustion: a flood of connections (or one host's) cannot take every
    // descriptor and thread of the server from other clients.
    if (max_total != 0 && total_ >= max_total) {
        why = "Too many connections to this server (MAXSESSIONS " + std::to_string(max_total) + "); try again later.";
        return slot;
    }
    auto from_host = per_host_.try_emplace(host, 0).first;
    if (max_per_host != 0 && from_host->second >= max_per_host) {
        why = "Too many connections from your address (MAXSESSIONSPERHOST " + std::to_string(max_per_host) + ").";
        return slot;
    }
    ++from_host->second;
    ++total_;
    slot.limits_ = this;
    slot.host_ = from_host;
    return slot;
}

std::size_t session_limits::total() const {
    std::lock_guard lock(mutex_);
    return total_;
}

std::size_t session_limits::sessions_of(const std::string& user) const {
    std::lock_guard lock(mutex_);
    auto it = per_user_.find(user);
    return it == per_user_.end() ? 0 : it->second;
}

std::size_t session_limits::passive_of(const std::string& user) const {
    std::lock_guard lock(mutex_);
    auto it = passive_per_user_.find(user);
    return it == passive_per_user_.end() ? 0 : it->second;
}

std::size_t session_limits::passive_in_use() const {
    std::lock_guard lock(mutex_);
    return passive_total_;
}

unsigned session_limits::passive_share(std::uint16_t low, std::uint16_t high) {
    if (low == 0 || high < low) return 0;
    const unsigned span = static_cast<unsigned>(high - low) + 1;
    return std::max(std::min(span, 4u), span / 4);
}

session_slot& session_slot::operator=(session_slot&& o) noexcept {
    if (this != &o) {
        release();
        limits_ = std::exchange(o.limits_, nullptr);
        host_ = o.host_;
        user_ = o.user_;
        has_user_ = std::exchange(o.has_user_, false);
        passive_ = std::exchange(o.passive_, false);
    }
    return *this;
}

bool session_slot::enter_user(const std::string& user, unsigned max_per_user, std::string& why) {
    if (!limits_) return true;
    leave_user();
    std::lock_guard lock(limits_->mutex_);
    auto n = limits_->per_user_.try_emplace(user, 0).first;
    // SECURITY: one account (a leaked password, a runaway script) cannot take every session.
    if (max_per_user != 0 && n->second >= max_per_user) {
        why = "Too many sessions of user " + user + " (MAXSESSIONSPERUSER " + std::to_string(max_per_user) + ").";
        return false;
    }
    ++n->second;
    user_ = n;
    has_user_ = true;
    return true;
}

void session_slot::leave_user() {
    if (!limits_ || !has_user_) return;
    drop_passive();
    std::lock_guard lock(limits_->mutex_);
    decrement(limits_->per_user_, user_);
    has_user_ = false;
}

bool session_slot::take_passive(unsigned share) {
    if (!limits_ || !has_user_ || passive_) return true;
    std::lock_guard lock(limits_->mutex_);
    auto n = limits_->passive_per_user_.try_emplace(user_->first, 0).first;
    // SECURITY: passive port exhaustion: one user's sessions cannot hold the whole
    // PASSIVEDATAPORTS range while every other user gets 425.
    if (share != 0 && n->second >= share) return false;  // (n->second > 0: the entry stays)
    ++n->second;
    ++limits_->passive_total_;
    passive_ = true;
    return true;
}

void session_slot::drop_passive() {
    if (!limits_ || !passive_) return;
    std::lock_guard lock(limits_->mutex_);
    if (auto n = limits_->passive_per_user_.find(user_->first); n != limits_->passive_per_user_.end())
        decrement(limits_->passive_per_user_, n);
    --limits_->passive_total_;
    passive_ = false;
}

void session_slot::release() {
    if (!limits_) return;
    leave_user();
    std::lock_guard lock(limits_->mutex_);
    decrement(limits_->per_host_, host_);
    --limits_->total_;
    limits_ = nullptr;
}

}  // namespace ferry::server
