// The invalidation channel of one Redis server (docs/coherence.md): a dedicated
// connection, subscribed to __redis__:invalidate, that receives what Redis says changed
// and hands it to the cache's Coherence (coherence.hpp).
//
// RESP2 with REDIRECT (hiredis 0.14 has no RESP3 push support): the channel connects
// (TLS, AUTH as any connection), asks CLIENT ID, turns tracking on for itself with
// REDIRECT to itself (in broadcast mode: BCAST PREFIX <the cache's prefix>, which is the
// whole registration) and SUBSCRIBEs, all in one round trip. Then it counts as up:
// - tracking mode: every data connection of the tier carries CLIENT TRACKING ON
//   REDIRECT <channel id> NOLOOP, queued by the pipe set ahead of the connection's next
//   request whenever the connection's registration is older than the channel
//   (register_on()), so nothing read on it goes untracked and no round trip is added.
//   A tracked connection that closes, for any reason, makes Redis forget what it read:
//   its destructor (forget()) or, sooner, the channel's poll() seeing the server close it
//   (POLLRDHUP) empties L1.
// - broadcast mode: data connections need nothing; only the channel matters.
// Lost, timed out (no PONG within socket_timeout of a PING sent after a second of
// silence), a Sentinel failover (the pool's target moved) or stop: the channel marks
// itself down (L1 emptied), then reconnects with backoff (retry_backoff_min .. max).
//
// One thread per channel, started with the tier (a Cluster node's: when it becomes a
// master). Fork: the child's tracker starts its own thread on its next use; the
// parent's channel and connections are not the child's.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "coherence.hpp"
#include "redis/pool.hpp"

namespace stratacache::redis {

class Pipe;

class Tracker {
 public:
  // Sentinel: `news` counts the watcher's announcements of a new master; `follow`
  // re-resolves the master (retargeting the pool) when there is news. Empty otherwise.
  struct Sentinel {
    std::function<uint64_t()> news;
    std::function<void(Deadline)> follow;
  };
  // `pool` and `options` must outlive the tracker. enabled=false: a Cluster node not
  // (yet) known as a master.
  Tracker(ConnectionPool& pool, const RedisOptions& options, std::shared_ptr<Coherence> coherence, bool enabled,
          Sentinel sentinel = {});
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Starts the channel thread when enabled and not running in this process. Cheap.
  void ensure_running();
  // Cluster: a node becomes (or stops being) a master the cache reads from.
  void set_enabled(bool enabled);
  // Stops the thread (the channel counts as down until the tracker is destroyed).
  void stop();

  // Called on every pick (two atomic loads when nothing is to do). A pipe to another
  // server than the channel's (Sentinel moved the pool first): the channel goes down at
  // once. Tracking mode: when the pipe's connection is not registered with the channel
  // as it is now, queues the registration on the pipe (ahead of whatever is sent next).
  void register_on(Pipe& pipe);
  // A registered connection is closing.
  void forget(const Connection* conn);

 private:
  struct Watched {
    int fd;
    uint64_t epoch;
  };
  void run(uint64_t generation);
  // One connected session; returns how long to wait before the next.
  std::chrono::milliseconds session(uint64_t generation);
  void wake();
  bool stopping(uint64_t generation) const;
  // Marks the channel down (once) and empties L1; any thread.
  void went_down(Coherence::Flush why, std::string error);
  void after_fork_locked();
  // The first attempt of this registration ended (up, failed, or stopped).
  void report_started_locked();

  ConnectionPool& pool_;
  const RedisOptions& options_;
  std::shared_ptr<Coherence> coherence_;
  const bool tracking_;  // per-key tracking (else broadcast)
  Sentinel sentinel_;
  std::atomic<uint64_t> channel_target_{0};  // the pool target the channel is connected to

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool enabled_;
  bool stop_ = false;
  bool counted_ = false;  // registered with coherence_ (channel_added)
  bool start_reported_ = false;  // coherence_->started() called for this registration
  bool up_ = false;
  bool lost_ = false;  // went down since it was last up: the next up logs coherence.channel_restored
  uint64_t generation_;   // fork generation of the state below
  std::thread thread_;
  bool running_ = false;
  int wake_fd_ = -1;
  std::string redirect_;  // the channel's client id while up
  int channel_fd_ = -1;   // while connected: stop() shuts it down so no wait outlasts it
  std::atomic<uint64_t> epoch_{0};  // nonzero while up; new on every session
  uint64_t epochs_ = 0;
  std::map<const Connection*, Watched> watched_;
  bool watch_changed_ = false;
};

}  // namespace stratacache::redis
