#include "support/failover_writer.hpp"

#include <algorithm>

namespace stratacache::testing {
namespace {

double ms_since(WriterLoop::Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(WriterLoop::Clock::now() - t).count();
}

}  // namespace

WriterLoop::WriterLoop(RemoteTier& t) : tier(t) { thread_ = std::thread([this] { run(); }); }

void WriterLoop::stop_and_join() {
  stop = true;
  if (thread_.joinable()) thread_.join();
}

void WriterLoop::run() {
  for (int i = 0; !stop; ++i) {
    auto t = Clock::now();
    Status s = tier.set("w:" + std::to_string(i), std::to_string(i), 0,
                        Deadline::after(std::chrono::milliseconds(kDeadlineMs)));
    double took = ms_since(t);
    std::lock_guard<std::mutex> lock(mu);
    worst_ms = std::max(worst_ms, took);
    if (s.is_ok()) {
      ++ok;
      last_ok = Clock::now();
      last_key = i;
    } else {
      ++failed;
      if (failed == 1) first_error = s.to_string();
      last_failure = Clock::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

double ms_until_master_moves(SentinelSet& set, uint16_t old_port, int limit_ms) {
  auto t0 = WriterLoop::Clock::now();
  while (ms_since(t0) < limit_ms) {
    uint16_t p = set.master_port();
    if (p != 0 && p != old_port) return ms_since(t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

}  // namespace stratacache::testing
