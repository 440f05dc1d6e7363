// A delay line for a router namespace, for kernels without netem (this VM's has none):
// bench/segments.py runs it inside the router namespace and routes every forwarded packet through
// its TUN device (policy routing by incoming interface). Each packet read from the device is
// written back DELAY_MS later, in order, and the kernel forwards it on; TCP sees the delay in its
// round-trip time, as on a long link (a user-space TCP relay would hide it).
//
//   delay_link DELAY_MS TUN_NAME READY_FILE        (stops on SIGTERM)
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct packet {
    clock_type::time_point due;
    std::vector<char> bytes;
};

std::mutex mutex;
std::condition_variable queued;
std::deque<packet> line;

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: delay_link DELAY_MS TUN_NAME READY_FILE\n");
        return 2;
    }
    const auto delay = std::chrono::microseconds(static_cast<long>(std::atof(argv[1]) * 1000));
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        std::perror("/dev/net/tun");
        return 1;
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, argv[2], IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
        std::perror("TUNSETIFF");
        return 1;
    }
    std::ofstream(argv[3]).put('\n');

    std::thread writer([fd] {
        for (;;) {
            packet p;
            {
                std::unique_lock lock(mutex);
                queued.wait(lock, [] { return !line.empty(); });
                p = std::move(line.front());
                line.pop_front();
            }
            std::this_thread::sleep_until(p.due);
            // A packet the kernel refuses (no route yet) is lost: TCP sends it again.
            (void)!::write(fd, p.bytes.data(), p.bytes.size());
        }
    });
    writer.detach();
    std::vector<char> buf(65536);
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return n == 0 ? 0 : 1;
        }
        packet p{clock_type::now() + delay, std::vector<char>(buf.begin(), buf.begin() + n)};
        {
            std::lock_guard lock(mutex);
            line.push_back(std::move(p));
        }
        queued.notify_one();
    }
}
