#include "coherence.hpp"


namespace stratacache {

Coherence::Coherence(L1Coherence mode, std::string prefix)
    : requested_(mode),
      mode_(static_cast<uint8_t>(mode == L1Coherence::kAuto ? L1Coherence::kTracking : mode)),
      prefix_(std::move(prefix)),
      fork_generation_(redis::fork_generation()) {}

void Coherence::attach(Sink* sink) { sink_.store(sink, std::memory_order_release); }
void Coherence::detach() { sink_.store(nullptr, std::memory_order_release); }

bool Coherence::after_fork() {
  uint64_t seen = fork_generation_.load(std::memory_order_relaxed);
  uint64_t now = redis::fork_generation();
  if (seen == now || !fork_generation_.compare_exchange_strong(seen, now)) return false;
  if (mode() == L1Coherence::kOff) return false;
  // Every channel of the parent is gone here: each counts as down until the child's own
  // is up (the trackers restart in the child on their next use). Nobody waits for them.
  down_.store(channels_.load(std::memory_order_relaxed), std::memory_order_release);
  starting_.store(0, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  flush(Flush::kFork);
  return true;
}

void Coherence::channel_added() {
  channels_.fetch_add(1, std::memory_order_relaxed);
  starting_.fetch_add(1, std::memory_order_acq_rel);
  down_.fetch_add(1, std::memory_order_acq_rel);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void Coherence::started() {
  std::lock_guard<std::mutex> lock(mu_);
  starting_.fetch_sub(1, std::memory_order_acq_rel);
  cv_.notify_all();
}

void Coherence::await_start(Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline.at(), [this] { return starting_.load(std::memory_order_acquire) <= 0; });
}

void Coherence::channel_removed(bool was_up) {
  channels_.fetch_sub(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (!was_up) down_.fetch_sub(1, std::memory_order_acq_rel);
}

void Coherence::channel_up() {
  // The registration is published (by the caller) before this: whatever reads with the
  // new token goes through a registered connection. Only what store_uncovered() put in
  // L1 needs to go (everything else was emptied when the channel went down).
  std::lock_guard<std::mutex> lock(mu_);
  if (uncovered_) flush(Flush::kChannel);
  uncovered_ = false;
  generation_.fetch_add(1, std::memory_order_acq_rel);
  down_.fetch_sub(1, std::memory_order_acq_rel);
}

void Coherence::channel_down(Flush why, std::string error) {
  down_.fetch_add(1, std::memory_order_acq_rel);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (!error.empty()) note_error(std::move(error));
  flush(why);
}

void Coherence::store_uncovered(const std::function<void()>& store, const std::function<void()>& erase) {
  std::lock_guard<std::mutex> lock(mu_);
  if (covered()) return erase();  // the channel came back meanwhile: nothing would tell us
  uncovered_ = true;
  store();
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
