#include "server/session_limits.hpp"

#include <algorithm>
#include <utility>

namespace ferry::server {

namespace {
void decrement(std::map<std::string, std::size_t>& m, const std::string& key) {
    auto it = m.find(key);
    if (it == m.end()) return;
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
    auto& from_host = per_host_[host];
    if (max_per_host != 0 && from_host >= max_per_host) {
        if (from_host == 0) per_host_.erase(host);
        why = "Too many connections from your address (MAXSESSIONSPERHOST " + std::to_string(max_per_host) + ").";
        return slot;
    }
    ++from_host;
    ++total_;
    slot.limits_ = this;
    slot.host_ = host;
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
        host_ = std::move(o.host_);
        user_ = std::move(o.user_);
        passive_ = std::exchange(o.passive_, false);
    }
    return *this;
}

bool session_slot::enter_user(const std::string& user, unsigned max_per_user, std::string& why) {
    if (!limits_) return true;
    leave_user();
    std::lock_guard lock(limits_->mutex_);
    auto& n = limits_->per_user_[user];
    // SECURITY: one account (a leaked password, a runaway script) cannot take every session.
    if (max_per_user != 0 && n >= max_per_user) {
        if (n == 0) limits_->per_user_.erase(user);
        why = "Too many sessions of user " + user + " (MAXSESSIONSPERUSER " + std::to_string(max_per_user) + ").";
        return false;
    }
    ++n;
    user_ = user;
    return true;
}

void session_slot::leave_user() {
    if (!limits_ || user_.empty()) return;
    drop_passive();
    std::lock_guard lock(limits_->mutex_);
    decrement(limits_->per_user_, user_);
    user_.clear();
}

bool session_slot::take_passive(unsigned share) {
    if (!limits_ || user_.empty() || passive_) return true;
    std::lock_guard lock(limits_->mutex_);
    auto& n = limits_->passive_per_user_[user_];
    // SECURITY: passive port exhaustion: one user's sessions cannot hold the whole
    // PASSIVEDATAPORTS range while every other user gets 425.
    if (share != 0 && n >= share) {
        if (n == 0) limits_->passive_per_user_.erase(user_);
        return false;
    }
    ++n;
    ++limits_->passive_total_;
    passive_ = true;
    return true;
}

void session_slot::drop_passive() {
    if (!limits_ || !passive_) return;
    std::lock_guard lock(limits_->mutex_);
    decrement(limits_->passive_per_user_, user_);
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
