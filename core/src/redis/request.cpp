#include "redis/request.hpp"

#include "redis/connection.hpp"

namespace stratacache::redis {

void Request::command(const std::string_view* args, size_t n) {
  starts_.push_back(static_cast<uint32_t>(bytes_.size()));
  append_command(bytes_, args, n, &format_error_);
}

std::string_view Request::wire(bool asking, std::string* scratch) const {
  if (!asking) return bytes_;
  static constexpr std::string_view kAsking = "*1\r\n$6\r\nASKING\r\n";
  scratch->clear();
  scratch->reserve(bytes_.size() + starts_.size() * kAsking.size());
  for (size_t i = 0; i < starts_.size(); ++i) {
    size_t end = i + 1 < starts_.size() ? starts_[i + 1] : bytes_.size();
    scratch->append(kAsking);
    scratch->append(bytes_, starts_[i], end - starts_[i]);
  }
  return *scratch;
}

Status unexpected_reply(const char* command) {
  return internal_error(std::string("unexpected reply type to ") + command);
}

Status read_integer(Reply r, const char* command, int64_t* out) {
  if (r.is(ReplyType::kError)) return server_error(r.str());
  if (!r.is(ReplyType::kInteger)) return unexpected_reply(command);
  *out = r.integer();
  return Status();
}

Status read_ok(Reply r, const char* command) {
  if (r.is(ReplyType::kError)) return server_error(r.str());
  if (!r.is(ReplyType::kStatus)) return unexpected_reply(command);
  return Status();
}

bool is_redirect(const Status& s) {
  if (!is_server_error(s)) return false;
  std::string_view m = s.message();
  return m.compare(0, 13, "redis: MOVED ") == 0 || m.compare(0, 11, "redis: ASK ") == 0 ||
         m.compare(0, 16, "redis: TRYAGAIN ") == 0;
}

}  // namespace stratacache::redis
