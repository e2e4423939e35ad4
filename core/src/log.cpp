#include "stratacache/log.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>

namespace stratacache {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kOff)};
std::shared_mutex g_mu;  // guards g_handler; events take it shared
std::shared_ptr<const LogHandler> g_handler;

}  // namespace

void set_log_handler(LogLevel min_level, LogHandler handler) {
  std::shared_ptr<const LogHandler> next;
  if (handler) next = std::make_shared<const LogHandler>(std::move(handler));
  std::unique_lock lk(g_mu);
  g_handler = std::move(next);
  g_min_level.store(g_handler ? static_cast<int>(min_level) : static_cast<int>(LogLevel::kOff),
                    std::memory_order_relaxed);
}

bool log_enabled(LogLevel level) noexcept {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void log_event(LogLevel level, std::string_view event, std::string_view message) {
  if (!log_enabled(level)) return;
  std::shared_lock lk(g_mu);
  if (g_handler) (*g_handler)(level, event, message);
}

}  // namespace stratacache
