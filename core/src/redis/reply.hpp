// Replies parsed by hiredis' reader into our own flat tree, so that hiredis types never
// leave core/src/redis and every reply is held to our limits. The storage is reused from
// one round trip to the next: once warm, parsing a reply allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stratacache/status.hpp"

struct redisReader;

namespace stratacache::redis {

enum class ReplyType : uint8_t { kString, kArray, kInteger, kNil, kStatus, kError };

struct ReplyLimits {
  size_t max_bytes = 80u << 20;     // memory one reply may take (payload + per-element overhead)
  size_t max_elements = 1u << 20;   // elements in one array
};

struct ReplyNode {
  static constexpr uint32_t kNone = UINT32_MAX;
  ReplyType type = ReplyType::kNil;
  uint32_t size = 0;  // kArray: declared number of elements
  uint32_t first = kNone, last = kNone, next = kNone;
  int64_t integer = 0;
  size_t offset = 0, length = 0;  // kString/kStatus/kError: bytes in ReplyArena::bytes
};

struct ReplyArena {
  std::vector<ReplyNode> nodes;
  std::string bytes;
};

// A read-only view of one parsed reply. Valid until the next round trip on the
// connection that produced it.
class Reply {
 public:
  Reply() = default;
  bool valid() const { return arena_ != nullptr; }
  ReplyType type() const { return node().type; }
  bool is(ReplyType t) const { return node().type == t; }
  // kString, kStatus, kError.
  std::string_view str() const {
    const ReplyNode& n = node();
    return std::string_view(arena_->bytes.data() + n.offset, n.length);
  }
  int64_t integer() const { return node().integer; }  // kInteger
  size_t size() const { return node().size; }         // kArray
  // Children of an array: for (Reply c = r.first(); c.valid(); c = c.next()).
  Reply first() const { return at(node().first); }
  Reply next() const { return at(node().next); }

 private:
  friend class ReplyReader;
  Reply(const ReplyArena* arena, uint32_t index) : arena_(arena), index_(index) {}
  const ReplyNode& node() const { return arena_->nodes[index_]; }
  Reply at(uint32_t i) const { return i == ReplyNode::kNone ? Reply() : Reply(arena_, i); }
  const ReplyArena* arena_ = nullptr;
  uint32_t index_ = 0;
};

// hiredis' reader with our object functions. Not movable: the reader points back at it.
class ReplyReader {
 public:
  explicit ReplyReader(ReplyLimits limits);
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  // Forgets the replies handed out so far (keeps the memory for the next round trip).
  void clear();
  Status feed(const char* data, size_t n);
  // The next complete reply in *out; *out is left invalid when more bytes are needed.
  // A non-ok status (kTooLarge, kInternal for a protocol error) leaves the stream
  // unusable: the connection must be closed.
  Status next(Reply* out);
  // Unparsed bytes are buffered (after all expected replies: the stream is out of step).
  bool has_buffered() const;
  // Whether a reply is half parsed (its first nodes are in the arena already): clear()
  // must wait until it completes.
  bool mid_reply() const;
  // Where the next replies' nodes go (null: the reader's own arena, which clear()
  // recycles). A shared pipe points it at the arena of the request whose reply comes
  // next; switch it only between replies (when next() has just returned one, or
  // before the first).
  void target(ReplyArena* arena) { arena_ = arena != nullptr ? arena : &own_; }

 private:
  struct Callbacks;
  Status check_pending() const;
  bool charge(size_t bytes);
  uint32_t add_node(const void* task, ReplyType type);

  redisReader* reader_ = nullptr;
  ReplyLimits limits_;
  ReplyArena own_;
  ReplyArena* arena_ = &own_;
  size_t reply_bytes_ = 0;  // charged to the reply being parsed
  bool too_large_ = false;
  std::string limit_error_;
};

// Maps a server error reply ("-WRONGTYPE ...") to a Status.
Status server_error(std::string_view message);
// Whether `s` was made by server_error() (its message starts with "redis: "): an error
// reply, as opposed to a transport or protocol failure.
bool is_server_error(const Status& s);

}  // namespace stratacache::redis
