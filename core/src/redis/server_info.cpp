// RedisOps::server_info (remote_tier.hpp): one INFO per node of info_servers(), all in
// flight at once, joined in node order and summed.
#include <algorithm>
#include <memory>
#include <mutex>

#include "redis/info.hpp"
#include "redis/redis_ops.hpp"

namespace stratacache::redis {
namespace {

void add_to(ServerNodeInfo& total, const ServerNodeInfo& n) {
  total.connected_clients += n.connected_clients;
  total.used_memory_bytes += n.used_memory_bytes;
  total.keyspace_hits += n.keyspace_hits;
  total.keyspace_misses += n.keyspace_misses;
  total.evicted_keys += n.evicted_keys;
  total.expired_keys += n.expired_keys;
  for (const auto& [db, count] : n.keys) {
    auto it = std::find_if(total.keys.begin(), total.keys.end(), [&db = db](const auto& e) { return e.first == db; });
    if (it == total.keys.end()) {
      total.keys.emplace_back(db, count);
    } else {
      it->second += count;
    }
  }
}

}  // namespace

void RedisOps::server_info(Call call, Done<ServerInfo> done) {
  auto servers_or = info_servers(call.deadline);
  if (!servers_or) return done(failed(servers_or.status()));
  if (servers_or->nodes.empty()) return done(failed(unavailable("the cluster names no node")));
  struct Join {
    std::mutex mu;
    size_t pending;
    ServerInfo info;
    std::vector<Status> outcomes;  // per node
    Done<ServerInfo> done;
  };
  auto join = std::make_shared<Join>();
  const size_t n = servers_or->nodes.size();
  join->pending = n;
  join->info.nodes.resize(n);
  join->outcomes.resize(n);
  join->done = std::move(done);
  auto finish = [this, join]() {
    ServerInfo& out = join->info;
    Status first_error;
    size_t answered = 0;
    for (size_t i = 0; i < out.nodes.size(); ++i) {
      const Status& s = join->outcomes[i];
      if (s) {
        add_to(out.total, out.nodes[i]);
        ++answered;
      } else if (first_error) {  // none kept yet
        first_error = s;
      }
    }
    if (answered == 0) return join->done(failed(first_error));
    out.total.used_memory_human = human_bytes(out.total.used_memory_bytes);
    join->done(std::move(out));
  };
  for (size_t i = 0; i < n; ++i) {
    RedisOps* server = servers_or->nodes[i];
    std::string name = i < servers_or->names.size() ? servers_or->names[i] : std::string();
    auto req = std::make_shared<Request>(call.deadline, call.wait);
    req->command({"INFO"});
    req->on_reply = [join, i](const Replies& r) {
      if (r[0].is(ReplyType::kError)) return server_error(r[0].str());
      if (!r[0].is(ReplyType::kString)) return unexpected_reply("INFO");
      parse_server_info(r[0].str(), &join->info.nodes[i]);  // one writer per node
      return Status();
    };
    req->done = [join, i, server, name, finish](Status s) {
      ServerNodeInfo& node = join->info.nodes[i];
      node.address = name.empty() ? server->address() : name;
      if (!s) node.error = s.to_string();
      bool last;
      {
        std::lock_guard<std::mutex> lock(join->mu);
        join->outcomes[i] = std::move(s);
        last = --join->pending == 0;
      }
      if (last) finish();
    };
    server->send(std::move(req));
  }
}

}  // namespace stratacache::redis
