// The null L2 for mem://: reads miss, writes succeed without effect, health is "healthy".
// Every call completes inline.
#include "remote_tier.hpp"

namespace stratacache {
namespace {

class NullRemoteTier final : public RemoteTier {
 public:
  bool enabled() const override { return false; }
  L2Stats stats() const override { return L2Stats{}; }

  void get(std::string_view, Call, Done<RemoteEntry> done) override { done(not_found()); }
  void mget(const std::vector<std::string>& keys, Call, DoneEntries done) override {
    done(std::vector<Result<RemoteEntry>>(keys.size(), Result<RemoteEntry>(not_found())));
  }
  void set(std::string_view, std::string_view, int64_t, Call, DoneStatus done) override { done(Status()); }
  void mset(const std::vector<RemoteWrite>&, Call, DoneStatus done) override { done(Status()); }
  void del(const std::vector<std::string>&, Call, Done<int64_t> done) override { done(int64_t{0}); }
  void exists(std::string_view, Call, Done<bool> done) override { done(false); }
  void pttl(std::string_view, Call, Done<int64_t> done) override { done(not_found()); }
  // A counter needs somewhere to live; pretending would return the same value forever.
  void incr_by(std::string_view, int64_t, int64_t, Call, Done<int64_t> done) override {
    done(Status(StatusCode::kUnsupported, "no L2 tier to hold the counter"));
  }
  void delete_matching(std::string_view, Call, Done<int64_t> done) override { done(int64_t{0}); }
  void count_matching(std::string_view, Call, Done<int64_t> done) override { done(int64_t{0}); }
  void delete_if_value(std::string_view, std::string_view, Call, Done<bool> done) override { done(false); }
  void lease_try(std::string_view, std::string_view, std::string_view, int64_t, bool, Call,
                 Done<LeaseTry> done) override {
    done(LeaseTry{true, false, 0});
  }
  void lease_fill(std::string_view, std::string_view, std::string_view, std::string_view, int64_t, Call,
                  Done<bool> done) override {
    done(true);
  }
  void script(std::string_view, const std::vector<std::string>&, const std::vector<std::string>&, bool, Call,
              Done<ScriptValue> done) override {
    done(Status(StatusCode::kUnsupported, "no L2 tier to run a script on"));
  }
  void health(Call, std::function<void(HealthInfo)> done) override {
    HealthInfo h;
    h.healthy = true;
    done(std::move(h));
  }
  void server_info(Call, Done<ServerInfo> done) override {
    done(Status(StatusCode::kUnsupported, "server info needs a Redis L2 (mem:// has no server)"));
  }
  using RemoteTier::del;
  using RemoteTier::delete_if_value;
  using RemoteTier::count_matching;
  using RemoteTier::delete_matching;
  using RemoteTier::exists;
  using RemoteTier::get;
  using RemoteTier::health;
  using RemoteTier::incr_by;
  using RemoteTier::mget;
  using RemoteTier::mset;
  using RemoteTier::pttl;
  using RemoteTier::script;
  using RemoteTier::server_info;
  using RemoteTier::set;
};

}  // namespace

std::unique_ptr<RemoteTier> make_null_remote_tier() { return std::make_unique<NullRemoteTier>(); }

}  // namespace stratacache
