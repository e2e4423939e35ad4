#include "redis/circuit_breaker.hpp"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "stratacache/log.hpp"

namespace stratacache::redis {
namespace {

// "2026-11-25T15:20:01.123Z"
std::string utc_text(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  tm parts{};
  gmtime_r(&secs, &parts);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

int64_t ms_between(CircuitBreaker::Clock::time_point a, CircuitBreaker::Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

}  // namespace

CircuitBreaker::CircuitBreaker(uint32_t threshold, std::chrono::milliseconds cooldown,
                               std::chrono::milliseconds cooldown_max, std::string label)
    : threshold_(threshold),
      label_(std::move(label)),
      cooldown_(std::max<std::chrono::milliseconds>(cooldown, std::chrono::milliseconds(1))),
      cooldown_max_(std::max(cooldown_, cooldown_max)),
      rng_(static_cast<unsigned>(::getpid()) ^ static_cast<unsigned>(Clock::now().time_since_epoch().count())) {}

CircuitBreaker::Ticket CircuitBreaker::admit(Status* refusal) {
  if (!open_.load(std::memory_order_acquire)) return Ticket::kNormal;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_.load(std::memory_order_relaxed)) return Ticket::kNormal;  // closed meanwhile
    auto now = Clock::now();
    if (probing_ || now < retry_at_) {
      rejections_.fetch_add(1, std::memory_order_relaxed);
      *refusal = refusal_locked(now);
      return Ticket::kRefused;
    }
    probing_ = true;
  }
  half_opens_.fetch_add(1, std::memory_order_relaxed);
  if (log_enabled(LogLevel::kInfo)) {
    log_event(LogLevel::kInfo, "breaker.half_open", label_ + ": circuit breaker half-open, one probe call goes to the server");
  }
  return Ticket::kProbe;
}

Status CircuitBreaker::refusal_locked(Clock::time_point now) const {
  std::string text = "circuit breaker open since " + utc_text(opened_wall_) + " (" +
                     std::to_string(ms_between(opened_at_, now)) + " ms ago) after " + std::to_string(threshold_) +
                     " consecutive failures; ";
  text += probing_ ? "a probe is under way" : "next probe in " + std::to_string(std::max<int64_t>(0, ms_between(now, retry_at_))) + " ms";
  text += "; last failure: " + why_.message();
  StatusCode code = why_.code() == StatusCode::kPermissionDenied ? StatusCode::kPermissionDenied : StatusCode::kUnavailable;
  return Status(code, std::move(text));
}

std::string CircuitBreaker::open_locked(const Status& why) {
  auto now = Clock::now();
  const bool reopen = open_.load(std::memory_order_relaxed);
  if (!reopen) {
    opened_at_ = now;
    opened_wall_ = std::chrono::system_clock::now();
    reopen_count_ = 0;
    opens_.fetch_add(1, std::memory_order_relaxed);
  } else {
    ++reopen_count_;
  }
  why_ = why;
  int64_t base = cooldown_.count();
  for (unsigned i = 0; i < reopen_count_ && base < cooldown_max_.count(); ++i) base *= 2;
  base = std::min<int64_t>(base, cooldown_max_.count());
  std::uniform_int_distribution<int64_t> jitter(base - base / 4, base);
  int64_t cooldown_ms = jitter(rng_);
  retry_at_ = now + std::chrono::milliseconds(cooldown_ms);
  open_.store(true, std::memory_order_release);
  if (!log_enabled(LogLevel::kWarning)) return {};
  return label_ + (reopen ? ": probe failed, circuit breaker open again for " : ": circuit breaker open for ") +
         std::to_string(cooldown_ms) + " ms after " + std::to_string(threshold_) +
         " consecutive failures; last: " + why.to_string();
}

void CircuitBreaker::settle(Ticket ticket, Outcome outcome, const Status& failure) {
  if (threshold_ == 0 || ticket == Ticket::kRefused) return;
  if (ticket == Ticket::kNormal) {
    if (outcome == Outcome::kSuccess) {
      if (consecutive_.load(std::memory_order_relaxed) != 0) consecutive_.store(0, std::memory_order_relaxed);
      return;
    }
    if (outcome == Outcome::kNeutral) return;
    if (consecutive_.fetch_add(1, std::memory_order_relaxed) + 1 < threshold_) return;
    std::string opened;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Calls that were already under way when it opened do not extend the open period.
      if (!open_.load(std::memory_order_relaxed) && consecutive_.load(std::memory_order_relaxed) >= threshold_) {
        opened = open_locked(failure);
      }
    }
    if (!opened.empty()) log_event(LogLevel::kWarning, "breaker.open", opened);
    return;
  }
  std::string opened;
  bool closed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    probing_ = false;
    if (!open_.load(std::memory_order_relaxed)) return;  // reset() meanwhile
    switch (outcome) {
      case Outcome::kSuccess:
        consecutive_.store(0, std::memory_order_relaxed);
        open_.store(false, std::memory_order_release);
        closes_.fetch_add(1, std::memory_order_relaxed);
        closed = true;
        break;
      case Outcome::kFailure:
        opened = open_locked(failure);
        break;
      case Outcome::kNeutral:
        break;  // the next caller probes instead
    }
  }
  if (!opened.empty()) log_event(LogLevel::kWarning, "breaker.open", opened);
  if (closed && log_enabled(LogLevel::kInfo)) {
    log_event(LogLevel::kInfo, "breaker.closed", label_ + ": probe succeeded, circuit breaker closed");
  }
}

void CircuitBreaker::reset() {
  if (threshold_ == 0) return;
  bool was_open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    consecutive_.store(0, std::memory_order_relaxed);
    was_open = open_.exchange(false, std::memory_order_acq_rel);
    if (was_open) closes_.fetch_add(1, std::memory_order_relaxed);
  }
  if (was_open && log_enabled(LogLevel::kInfo)) {
    log_event(LogLevel::kInfo, "breaker.closed", label_ + ": circuit breaker closed (the deployment changed)");
  }
}

}  // namespace stratacache::redis
