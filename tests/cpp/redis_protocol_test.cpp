// The L2 Redis tier against hostile servers: a fake server thread answers every request
// with a reply header announcing absurd sizes, or streams bytes forever. Each call must
// fail cleanly, before its deadline, without buffering what the header announced.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "remote_tier.hpp"

namespace stratacache {
namespace {

using Clock = std::chrono::steady_clock;

// Answers each request (the first bytes of each connection) with `reply`, then, when
// `endless` is set, with a stream of filler bytes until the client hangs up.
class FakeServer {
 public:
  FakeServer(std::string reply, bool endless, char filler = 'x')
      : reply_(std::move(reply)), endless_(endless), filler_(filler) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("fake server: bind/listen failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  uint64_t bytes_sent() const { return sent_; }

 private:
  bool wait(int fd, short events) {
    while (!stop_) {
      pollfd p{fd, events, 0};
      int n = ::poll(&p, 1, 20);
      if (n > 0) return true;
    }
    return false;
  }
  void serve() {
    while (wait(listen_fd_, POLLIN)) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) continue;
      handle(fd);
      ::close(fd);
    }
  }
  void handle(int fd) {
    char buf[4096];
    std::string filler(64 * 1024, filler_);
    for (;;) {
      if (!wait(fd, POLLIN)) return;
      if (::recv(fd, buf, sizeof buf, 0) <= 0) return;  // client gone
      if (!send_all(fd, reply_)) return;
      while (endless_) {
        if (!send_all(fd, filler)) return;
      }
    }
  }
  bool send_all(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      if (!wait(fd, POLLOUT)) return false;
      ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
      sent_ += static_cast<uint64_t>(n);
    }
    return true;
  }

  std::string reply_;
  bool endless_;
  char filler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

RedisOptions fake_options(const FakeServer& server) {
  RedisOptions o;
  o.transport = RedisOptions::Transport::kTcp;
  o.host = "127.0.0.1";
  o.port = server.port();
  return o;  // default limits: max_reply_bytes 80 MiB
}

struct HostileCase {
  const char* name;
  std::string reply;
  bool endless;
  char filler;
  StatusCode expected;
};

class RedisHostileServer : public ::testing::TestWithParam<HostileCase> {};

TEST_P(RedisHostileServer, FailsBeforeDeadlineWithBoundedMemory) {
  const HostileCase& c = GetParam();
  FakeServer server(c.reply, c.endless, c.filler);
  auto tier = make_redis_tier(fake_options(server));
  size_t rss_before = rss_bytes();
  const auto deadline_ms = std::chrono::milliseconds(3000);
  for (int i = 0; i < 3; ++i) {
    auto t0 = Clock::now();
    auto r = tier->get("k", Deadline::after(deadline_ms));
    auto elapsed = Clock::now() - t0;
    EXPECT_EQ(r.code(), c.expected) << r.status().to_string();
    EXPECT_LT(elapsed, deadline_ms);
  }
  size_t rss_after = rss_bytes();
  EXPECT_LT(rss_after > rss_before ? rss_after - rss_before : 0, size_t{100} << 20);
  L2Stats st = tier->stats();
  EXPECT_EQ(st.connections_discarded, 3u);  // never reused after a broken reply
  EXPECT_EQ(st.errors, 3u);
}

INSTANTIATE_TEST_SUITE_P(
    RedisReplies, RedisHostileServer,
    ::testing::Values(
        HostileCase{"ArrayOf4294967295", "*4294967295\r\n", false, 'x', StatusCode::kTooLarge},
        HostileCase{"ArrayOverMaxElements", "*2000000\r\n", true, 'x', StatusCode::kTooLarge},
        HostileCase{"NegativeArray", "*-5\r\n", false, 'x', StatusCode::kTooLarge},
        HostileCase{"Bulk4000000000Endless", "$4000000000\r\n", true, 'x', StatusCode::kTooLarge},
        HostileCase{"EndlessStatusLine", "+", true, 'x', StatusCode::kTooLarge},
        HostileCase{"EndlessNestedArrays", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n", false, 'x',
                    StatusCode::kInternal},
        HostileCase{"EndlessSmallBulks", "*1000000\r\n", true, '$', StatusCode::kInternal},
        HostileCase{"Garbage", "?what\r\n", false, 'x', StatusCode::kInternal}),
    [](const ::testing::TestParamInfo<HostileCase>& info) { return std::string(info.param.name); });

// A server that accepts and never answers: the call ends at its deadline, not later.
TEST(RedisHostile, SilentServerTimesOutAtTheDeadline) {
  FakeServer server("", false);
  auto tier = make_redis_tier(fake_options(server));
  auto t0 = Clock::now();
  auto r = tier->get("k", Deadline::after(std::chrono::milliseconds(100)));
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  EXPECT_EQ(r.code(), StatusCode::kTimeout);
  EXPECT_GE(ms, 99.0);
  EXPECT_LT(ms, 150.0);
  EXPECT_EQ(tier->stats().timeouts, 1u);
}

}  // namespace
}  // namespace stratacache
