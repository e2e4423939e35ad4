// The L2 timing point: a RemoteTier that forwards every operation to the real tier and
// records, at its completion, how long it took (metrics/recorder.hpp) and the value
// bytes that went to and came from Redis.
#include <string>
#include <utility>

#include "metrics/recorder.hpp"
#include "remote_tier.hpp"

namespace stratacache {

namespace {

class TimedRemoteTier final : public RemoteTier {
 public:
  TimedRemoteTier(std::unique_ptr<RemoteTier> inner, MetricsRecorder& recorder)
      : inner_(std::move(inner)), recorder_(recorder) {}

  bool enabled() const override { return inner_->enabled(); }
  bool async_native() const override { return inner_->async_native(); }
  void close() override { inner_->close(); }
  L2Stats stats() const override {
    L2Stats s = inner_->stats();
    s.bytes_read = recorder_.bytes_read();
    s.bytes_written = recorder_.bytes_written();
    return s;
  }

  void get(std::string_view key, Call call, Done<RemoteEntry> done) override {
    inner_->get(key, call, timed<Result<RemoteEntry>>(MetricOp::kGet, key, [this, done = std::move(done)](Result<RemoteEntry> r) {
      if (r) recorder_.add_bytes_read(r->value.size());
      done(std::move(r));
    }));
  }
  void mget(const std::vector<std::string>& keys, Call call, DoneEntries done) override {
    inner_->mget(keys, call, timed<std::vector<Result<RemoteEntry>>>(MetricOp::kMget, first(keys),
        [this, done = std::move(done)](std::vector<Result<RemoteEntry>> r) {
          uint64_t n = 0;
          for (auto& e : r) n += e ? e->value.size() : 0;
          recorder_.add_bytes_read(n);
          done(std::move(r));
        }));
  }
  void set(std::string_view key, std::string_view value, int64_t ttl_ms, Call call, DoneStatus done) override {
    recorder_.add_bytes_written(value.size());
    inner_->set(key, value, ttl_ms, call, timed<Status>(MetricOp::kSet, key, std::move(done)));
  }
  void mset(const std::vector<RemoteWrite>& writes, Call call, DoneStatus done) override {
    uint64_t n = 0;
    for (auto& w : writes) n += w.value.size();
    recorder_.add_bytes_written(n);
    // One key is a set, whatever rides along in its pipeline (the EXISTS of its dependents).
    MetricOp op = writes.size() == 1 ? MetricOp::kSet : MetricOp::kMset;
    inner_->mset(writes, call, timed<Status>(op, writes.empty() ? std::string_view() : writes[0].key, std::move(done)));
  }
  void del(const std::vector<std::string>& keys, Call call, Done<int64_t> done) override {
    inner_->del(keys, call, timed<Result<int64_t>>(MetricOp::kDelete, first(keys), std::move(done)));
  }
  void exists(std::string_view key, Call call, Done<bool> done) override {
    inner_->exists(key, call, timed<Result<bool>>(MetricOp::kExists, key, std::move(done)));
  }
  void pttl(std::string_view key, Call call, Done<int64_t> done) override {
    inner_->pttl(key, call, timed<Result<int64_t>>(MetricOp::kTtl, key, std::move(done)));
  }
  void incr_by(std::string_view key, int64_t amount, int64_t ttl_ms, Call call, Done<int64_t> done) override {
    inner_->incr_by(key, amount, ttl_ms, call, timed<Result<int64_t>>(MetricOp::kIncrement, key, std::move(done)));
  }
  void delete_matching(std::string_view glob, Call call, Done<int64_t> done) override {
    inner_->delete_matching(glob, call, timed<Result<int64_t>>(MetricOp::kDeleteMatching, glob, std::move(done)));
  }
  // A tool's dry run (stratacache_count_pattern), not an operation of the cache: untimed.
  void count_matching(std::string_view glob, Call call, Done<int64_t> done) override {
    inner_->count_matching(glob, call, std::move(done));
  }
  // A diagnostic of the servers (stratacache_server_info_json), not an operation of the cache: untimed.
  void server_info(Call call, Done<ServerInfo> done) override { inner_->server_info(call, std::move(done)); }
  void health(Call call, std::function<void(HealthInfo)> done) override {
    inner_->health(call, timed<HealthInfo>(MetricOp::kHealth, {}, std::move(done)));
  }
  void delete_if_value(std::string_view key, std::string_view expected, Call call, Done<bool> done) override {
    inner_->delete_if_value(key, expected, call, timed<Result<bool>>(MetricOp::kDeleteIfValue, key, std::move(done)));
  }
  void lease_try(std::string_view value_key, std::string_view lease_key, std::string_view token, int64_t ttl_ms,
                 bool if_absent, Call call, Done<LeaseTry> done) override {
    inner_->lease_try(value_key, lease_key, token, ttl_ms, if_absent, call,
                      timed<Result<LeaseTry>>(MetricOp::kLeaseTry, value_key, std::move(done)));
  }
  void lease_fill(std::string_view value_key, std::string_view lease_key, std::string_view token,
                  std::string_view value, int64_t ttl_ms, Call call, Done<bool> done) override {
    recorder_.add_bytes_written(value.size());
    inner_->lease_fill(value_key, lease_key, token, value, ttl_ms, call,
                       timed<Result<bool>>(MetricOp::kLeaseFill, value_key, std::move(done)));
  }
  void script(std::string_view lua, const std::vector<std::string>& keys, const std::vector<std::string>& args,
              bool idempotent, Call call, Done<ScriptValue> done) override {
    inner_->script(lua, keys, args, idempotent, call,
                   timed<Result<ScriptValue>>(MetricOp::kScript, first(keys), std::move(done)));
  }

 private:
  static std::string_view first(const std::vector<std::string>& keys) {
    return keys.empty() ? std::string_view() : std::string_view(keys[0]);
  }

  // `done` wrapped so that the operation's duration is recorded before it runs.
  template <typename Arg, typename Done>
  std::function<void(Arg)> timed(MetricOp op, std::string_view key, Done&& done) {
    return [this, op, start = MetricsRecorder::now_ns(), key = std::string(key),
            done = std::forward<Done>(done)](Arg r) mutable {
      recorder_.finished(MetricTier::kL2, op, key, MetricsRecorder::now_ns() - start, 1);
      done(std::move(r));
    };
  }

  std::unique_ptr<RemoteTier> inner_;
  MetricsRecorder& recorder_;
};

}  // namespace

std::unique_ptr<RemoteTier> make_timed_remote_tier(std::unique_ptr<RemoteTier> inner, MetricsRecorder& recorder) {
  if (!MetricsRecorder::kEnabled || !inner->enabled()) return inner;
  return std::make_unique<TimedRemoteTier>(std::move(inner), recorder);
}

}  // namespace stratacache
