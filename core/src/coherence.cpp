#include "coherence.hpp"

#include "redis/pool.hpp"

namespace stratacache {

Coherence::Coherence(L1Coherence mode, std::string prefix)
    : requested_(mode),
      mode_(static_cast<uint8_t>(mode == L1Coherence::kAuto ? L1Coherence::kTracking : mode)),
      prefix_(std::move(prefix)),
      fork_generation_(redis::fork_generation()) {}

void Coherence::attach(Sink* sink) { sink_.store(sink, std::memory_order_release); }
void Coherence::detach() { sink_.store(nullptr, std::memory_order_release); }

bool Coherence::forked() {
  uint64_t seen = fork_generation_.load(std::memory_order_relaxed);
  uint64_t now = redis::fork_generation();
  if (seen == now || mode() == L1Coherence::kOff) return false;
  if (!fork_generation_.compare_exchange_strong(seen, now)) return false;
  // Every channel of the parent is gone here: each counts as down until the child's own
  // is up (the trackers restart in the child on their next use).
  down_.store(channels_.load(std::memory_order_relaxed), std::memory_order_release);
  return true;
}

void Coherence::channel_added() {
  channels_.fetch_add(1, std::memory_order_relaxed);
  down_.fetch_add(1, std::memory_order_acq_rel);
}

void Coherence::channel_removed(bool was_up) {
  channels_.fetch_sub(1, std::memory_order_relaxed);
  if (!was_up) down_.fetch_sub(1, std::memory_order_acq_rel);
}

void Coherence::channel_up() {
  // The registration is published (by the caller) before this; L1 is emptied before the
  // channel counts as up, so nothing read before it can be back-filled after.
  flush(Flush::kChannel);
  down_.fetch_sub(1, std::memory_order_acq_rel);
}

void Coherence::channel_down(Flush why, std::string error) {
  down_.fetch_add(1, std::memory_order_acq_rel);
  if (!error.empty()) note_error(std::move(error));
  flush(why);
}

void Coherence::unsupported(std::string error) {
  note_error("the server cannot track keys: " + error);
  if (requested_ == L1Coherence::kAuto) {
    // As before coherence existed: L1 copies live until l1_ttl.
    mode_.store(static_cast<uint8_t>(L1Coherence::kOff), std::memory_order_release);
  }
}

void Coherence::invalidate(std::string_view key) {
  invalidations_.fetch_add(1, std::memory_order_relaxed);
  if (Sink* s = sink_.load(std::memory_order_acquire)) s->invalidate(key);
}

void Coherence::flush(Flush why) {
  flushes_[static_cast<size_t>(why)].fetch_add(1, std::memory_order_relaxed);
  if (Sink* s = sink_.load(std::memory_order_acquire)) s->flush();
}

void Coherence::note_error(std::string error) {
  std::lock_guard<std::mutex> lock(error_mu_);
  last_error_ = std::move(error);
}

void Coherence::add_stats(L1Stats* s) const {
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  s->invalidations = get(invalidations_);
  s->flushes_channel = get(flushes_[static_cast<size_t>(Flush::kChannel)]);
  s->flushes_connection = get(flushes_[static_cast<size_t>(Flush::kConnection)]);
  s->flushes_topology = get(flushes_[static_cast<size_t>(Flush::kTopology)]);
  s->flushes_server = get(flushes_[static_cast<size_t>(Flush::kServer)]);
  s->flushes_fork = get(flushes_[static_cast<size_t>(Flush::kFork)]);
  s->coherence_flushes =
      s->flushes_channel + s->flushes_connection + s->flushes_topology + s->flushes_server + s->flushes_fork;
}

void Coherence::add_health(HealthInfo* h) const {
  switch (mode()) {
    case L1Coherence::kTracking: h->coherence = "tracking"; break;
    case L1Coherence::kBroadcast: h->coherence = "broadcast"; break;
    default: h->coherence = "off"; break;
  }
  h->coherence_up = covered();
  h->coherence_channels = mode() == L1Coherence::kOff ? 0 : channels_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(error_mu_);
  h->coherence_error = last_error_;
}

}  // namespace stratacache
