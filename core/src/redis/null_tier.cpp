// The null L2 for mem://: reads miss, writes succeed without effect, health is "healthy".
#include "remote_tier.hpp"

namespace stratacache {
namespace {

class NullRemoteTier final : public RemoteTier {
 public:
  bool enabled() const override { return false; }
  Result<RemoteEntry> get(std::string_view, Deadline) override { return not_found(); }
  std::vector<Result<RemoteEntry>> mget(const std::vector<std::string>& keys, Deadline) override {
    std::vector<Result<RemoteEntry>> out;
    out.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) out.emplace_back(not_found());
    return out;
  }
  Status set(std::string_view, std::string_view, int64_t, Deadline) override { return Status(); }
  Status mset(const std::vector<RemoteWrite>&, Deadline) override { return Status(); }
  Result<int64_t> del(const std::vector<std::string>&, Deadline) override { return int64_t{0}; }
  Result<bool> exists(std::string_view, Deadline) override { return false; }
  Result<int64_t> pttl(std::string_view, Deadline) override { return not_found(); }
  // A counter needs somewhere to live; pretending would return the same value forever.
  Result<int64_t> incr_by(std::string_view, int64_t, int64_t, Deadline) override {
    return Status(StatusCode::kUnsupported, "no L2 tier to hold the counter");
  }
  Result<int64_t> delete_matching(std::string_view, Deadline) override { return int64_t{0}; }
  Result<HealthInfo> health(Deadline) override {
    HealthInfo h;
    h.healthy = true;
    return h;
  }
  L2Stats stats() const override { return L2Stats{}; }
  // ---- compare-and-delete ----
  Result<bool> delete_if_value(std::string_view, std::string_view, Deadline) override { return false; }
};

}  // namespace

std::unique_ptr<RemoteTier> make_null_remote_tier() { return std::make_unique<NullRemoteTier>(); }

}  // namespace stratacache
