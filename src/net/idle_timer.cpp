#include "net/idle_timer.hpp"

namespace ferry::net {

std::shared_ptr<idle_timer> idle_timer::start(asio::any_io_executor ex, clock::duration limit,
                                              std::function<void()> on_idle) {
    auto t = std::make_shared<idle_timer>(ex, limit, std::move(on_idle));
    t->arm();
    return t;
}

void idle_timer::arm() {
    timer_.expires_at(last_ + limit_);
    timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
        if (ec || self->stopped_) return;
        if (clock::now() >= self->last_ + self->limit_) {
            if (!self->busy_ || !self->busy_()) {
                self->fired_ = true;
                self->stopped_ = true;
                self->on_idle_();
                return;
            }
            self->touch();
            self->arm();
        } else {
            self->arm();
        }
    });
}

void idle_timer::restart(clock::duration limit) {
    if (stopped_) return;
    limit_ = limit;
    touch();
    timer_.cancel();  // the pending wait ends with operation_aborted and does nothing
    arm();
}

void idle_timer::stop() {
    stopped_ = true;
    timer_.cancel();
}

}  // namespace ferry::net
