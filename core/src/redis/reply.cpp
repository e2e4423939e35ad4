#include "redis/reply.hpp"

#include <hiredis/read.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <new>

namespace stratacache::redis {
namespace {

// A bulk header is "$<len>\r\n"; anything longer than this without CR is not a header.
constexpr size_t kMaxBulkHeader = 24;
// Status, error, integer and array-header lines are short; an endless line is hostile
// (and would make hiredis rescan the whole buffer on every read).
constexpr size_t kMaxLine = 1u << 20;
// Wire bytes a bulk string carries beyond its payload ("$<len>\r\n" + "\r\n").
constexpr size_t kBulkFraming = kMaxBulkHeader + 2;

void* to_handle(uint32_t index) { return reinterpret_cast<void*>(static_cast<uintptr_t>(index) + 1); }
uint32_t from_handle(const void* handle) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(handle) - 1);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

// hiredis calls these while parsing; privdata is the ReplyReader. Returning NULL makes
// the reader fail with an "out of memory" error, which next() turns into our limit error.
struct ReplyReader::Callbacks {
  static ReplyReader* self(const redisReadTask* task) { return static_cast<ReplyReader*>(task->privdata); }

  static void* create_string(const redisReadTask* task, char* str, size_t len) {
    ReplyReader* r = self(task);
    if (!r->charge(len)) return nullptr;
    ReplyType type = task->type == REDIS_REPLY_ERROR    ? ReplyType::kError
                     : task->type == REDIS_REPLY_STATUS ? ReplyType::kStatus
                                                        : ReplyType::kString;
    uint32_t i = r->add_node(task, type);
    ReplyNode& n = r->arena_->nodes[i];
    n.offset = r->arena_->bytes.size();
    n.length = len;
    r->arena_->bytes.append(str, len);
    return to_handle(i);
  }

  static void* create_array(const redisReadTask* task, int elements) {
    ReplyReader* r = self(task);
    // hiredis 0.14.1 rejects counts outside [-1, INT_MAX] before calling us (older
    // releases truncated a 64-bit count to int); -1 arrives as createNil. Still guard.
    if (elements < 0 || static_cast<size_t>(elements) > r->limits_.max_elements) {
      r->too_large_ = true;
      r->limit_error_ = "array reply of " + std::to_string(elements) + " elements (max_reply_elements " +
                        std::to_string(r->limits_.max_elements) + ")";
      return nullptr;
    }
    if (!r->charge(0)) return nullptr;
    uint32_t i = r->add_node(task, ReplyType::kArray);
    r->arena_->nodes[i].size = static_cast<uint32_t>(elements);
    return to_handle(i);
  }

  static void* create_integer(const redisReadTask* task, long long value) {
    ReplyReader* r = self(task);
    if (!r->charge(0)) return nullptr;
    uint32_t i = r->add_node(task, ReplyType::kInteger);
    r->arena_->nodes[i].integer = value;
    return to_handle(i);
  }

  static void* create_nil(const redisReadTask* task) {
    ReplyReader* r = self(task);
    if (!r->charge(0)) return nullptr;
    return to_handle(r->add_node(task, ReplyType::kNil));
  }

  // Nodes live in the arena, which clear() recycles.
  static void free_object(void*) {}

  static redisReplyObjectFunctions table;
};

redisReplyObjectFunctions ReplyReader::Callbacks::table = {
    &ReplyReader::Callbacks::create_string, &ReplyReader::Callbacks::create_array,
    &ReplyReader::Callbacks::create_integer, &ReplyReader::Callbacks::create_nil,
    &ReplyReader::Callbacks::free_object};

ReplyReader::ReplyReader(ReplyLimits limits) : limits_(limits) {
  reader_ = redisReaderCreateWithFunctions(&Callbacks::table);
  if (!reader_) throw std::bad_alloc();
  reader_->privdata = this;
  own_.nodes.reserve(16);
  own_.bytes.reserve(4096);
}

ReplyReader::~ReplyReader() { redisReaderFree(reader_); }

void ReplyReader::clear() {
  // Give back what one unusually large reply made us hold on to.
  if (own_.bytes.capacity() > (1u << 20)) std::string().swap(own_.bytes);
  if (own_.nodes.capacity() > (1u << 14)) std::vector<ReplyNode>().swap(own_.nodes);
  own_.nodes.clear();
  own_.bytes.clear();
}

bool ReplyReader::charge(size_t bytes) {
  reply_bytes_ += bytes + sizeof(ReplyNode);
  if (reply_bytes_ <= limits_.max_bytes) return true;
  too_large_ = true;
  limit_error_ = "reply over max_reply_bytes (" + std::to_string(limits_.max_bytes) + ")";
  return false;
}

uint32_t ReplyReader::add_node(const void* task_ptr, ReplyType type) {
  const auto* task = static_cast<const redisReadTask*>(task_ptr);
  auto i = static_cast<uint32_t>(arena_->nodes.size());
  arena_->nodes.emplace_back();
  arena_->nodes[i].type = type;
  if (task->parent) {
    ReplyNode& parent = arena_->nodes[from_handle(task->parent->obj)];
    if (parent.first == ReplyNode::kNone) {
      parent.first = i;
    } else {
      arena_->nodes[parent.last].next = i;
    }
    parent.last = i;
  }
  return i;
}

Status ReplyReader::feed(const char* data, size_t n) {
  if (redisReaderFeed(reader_, data, n) != REDIS_OK) return internal_error("reply reader: out of memory");
  return Status();
}

Status ReplyReader::next(Reply* out) {
  *out = Reply();
  void* obj = nullptr;
  if (redisReaderGetReply(reader_, &obj) != REDIS_OK) {
    if (too_large_) return too_large(limit_error_);
    std::string_view err = reader_->errstr;
    // "Multi-bulk length out of range" / "Bulk string length out of range": a header
    // announcing more than we could ever hold.
    if (err.find("out of range") != std::string_view::npos) return too_large("reply header: " + std::string(err));
    return internal_error("protocol error: " + std::string(err));
  }
  if (obj != nullptr) {
    *out = Reply(arena_, from_handle(obj));
    reply_bytes_ = 0;
    return Status();
  }
  return check_pending();
}

bool ReplyReader::has_buffered() const { return reader_->len > reader_->pos; }
// Every node charges the reply being built, and a completed reply resets the charge.
bool ReplyReader::mid_reply() const { return reply_bytes_ > 0; }

// hiredis buffers a bulk string until all of it has arrived, and a line until its CRLF,
// however large the announced length or the line. Judge the incomplete item now, from
// the reader's state (hiredis 0.14's redisReader is a transparent struct).
Status ReplyReader::check_pending() const {
  size_t pending = reader_->len - reader_->pos;
  if (pending == 0 || reader_->ridx < 0) return Status();
  if (reply_bytes_ + pending > limits_.max_bytes + kBulkFraming) {
    return too_large("reply over max_reply_bytes (" + std::to_string(limits_.max_bytes) + ")");
  }
  const char* p = reader_->buf + reader_->pos;
  int type = reader_->rstack[reader_->ridx].type;
  if (type == REDIS_REPLY_STRING) {
    // The '$' is consumed; p points at "<len>\r\n<payload>".
    const void* cr = std::memchr(p, '\r', pending < kMaxBulkHeader ? pending : kMaxBulkHeader);
    if (cr == nullptr) {
      if (pending >= kMaxBulkHeader) return internal_error("protocol error: bulk header too long");
      return Status();
    }
    long long len = 0;
    auto [end, ec] = std::from_chars(p, static_cast<const char*>(cr), len);
    if (ec != std::errc() || end != cr) return Status();  // hiredis reports it
    if (len > 0 && static_cast<unsigned long long>(len) > limits_.max_bytes - std::min(limits_.max_bytes, reply_bytes_)) {
      return too_large("bulk reply of " + std::to_string(len) + " bytes (max_reply_bytes " +
                       std::to_string(limits_.max_bytes) + ")");
    }
    return Status();
  }
  if (pending > kMaxLine) return too_large("reply line over " + std::to_string(kMaxLine) + " bytes");
  return Status();
}

Status server_error(std::string_view message) {
  std::string text = "redis: " + std::string(message);
  if (starts_with(message, "NOAUTH") || starts_with(message, "WRONGPASS") || starts_with(message, "NOPERM")) {
    return Status(StatusCode::kPermissionDenied, std::move(text));
  }
  if (starts_with(message, "WRONGTYPE") || starts_with(message, "ERR value is not an integer")) {
    return Status(StatusCode::kWrongType, std::move(text));
  }
  // The server cannot serve right now, but may soon: retryable.
  if (starts_with(message, "LOADING") || starts_with(message, "BUSY ") || starts_with(message, "MASTERDOWN") ||
      starts_with(message, "TRYAGAIN") || starts_with(message, "READONLY") || starts_with(message, "OOM")) {
    return unavailable(std::move(text));
  }
  return internal_error(std::move(text));
}

bool is_server_error(const Status& s) { return s.message().compare(0, 7, "redis: ") == 0; }

}  // namespace stratacache::redis
