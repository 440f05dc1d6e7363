#include "server/work_pool.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ferry::server {

work_pool::work_pool(std::string name, unsigned threads, int nice) : ctx_(1), guard_(ctx_.get_executor()) {
    if (threads == 0) threads = 1;
    for (unsigned i = 0; i < threads; ++i)
        threads_.emplace_back([this, name, nice] {
            pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
            // Linux: PRIO_PROCESS with a thread id sets that thread's niceness alone.
            if (nice != 0) ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice);
            ctx_.run();
        });
}

work_pool::~work_pool() { stop(); }

void work_pool::stop() {
    guard_.reset();
    ctx_.stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

}  // namespace ferry::server
