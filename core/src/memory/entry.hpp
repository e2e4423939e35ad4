// An L1 entry: ONE allocation holding the bookkeeping, the key and the value.
//
//   [Entry header 40 B][Timed part 24 B, or 32 B with idle expiry — only when the entry
//    expires][key bytes][value bytes]
//
// Entries are immutable except for their links (guarded by the owning lock) and the
// expiry time (atomic: sliding expiry moves it on reads). A write creates a new entry.
//
// References (Entry::refs): one for the hash map while mapped, one for the policy from
// creation until the policy has linked and later unlinked it (or dropped it unlinked),
// one per read-buffer slot holding it, one per ValueRef handed out. The last release
// frees it, wherever that happens.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "stratacache/value_ref.hpp"

namespace stratacache::l1 {

// Policy queue of an entry (the low 3 bits of Entry::flags).
enum Queue : uint8_t { kUnlinked = 0, kWindow = 1, kProbation = 2, kProtected = 3, kDead = 4 };

struct Entry : detail::RefCounted {
  uint32_t hash;        // low 32 bits of the key hash (buckets, sketch)
  uint32_t value_len;
  uint16_t key_len;
  Format format;
  std::atomic<uint8_t> flags;  // Queue (policy lock) | kInMap (shard lock) | layout bits (immutable)
  Entry* chain;         // next in the hash bucket (shard lock)
  Entry* prev;          // policy deque (policy lock)
  Entry* next;

  static constexpr uint8_t kQueueMask = 0x07;
  static constexpr uint8_t kInMap = 0x08;
  static constexpr uint8_t kTimed = 0x10;  // has a Timed part
  static constexpr uint8_t kIdle = 0x20;   // the Timed part has a hard deadline too

  struct Timed {
    std::atomic<int64_t> expires_at;  // ms on the tier's clock; reads compare against it
    Timed* wprev;                     // timer wheel bucket ring (policy lock); null: unscheduled
    Timed* wnext;
    Entry* entry() { return reinterpret_cast<Entry*>(this) - 1; }
  };
  struct IdleTimed : Timed {
    int64_t hard_expires_at;  // the TTL cap idle extension never passes (0: none)
  };

  static constexpr size_t kMaxKey = 0xFFFF;

  static size_t header_size(bool timed, bool idle) {
    return sizeof(Entry) + (timed ? (idle ? sizeof(IdleTimed) : sizeof(Timed)) : 0);
  }

  // refs starts at 2: the map's and the policy's. nullptr when out of memory.
  static Entry* make(std::string_view key, uint32_t hash, Format format, std::string_view value, int64_t expires_at,
                     bool idle, int64_t hard_expires_at) {
    bool timed = expires_at != 0 || idle;
    size_t head = header_size(timed, idle);
    void* mem = std::malloc(head + key.size() + value.size());
    if (!mem) return nullptr;
    Entry* e = new (mem) Entry;
    e->refs.store(2, std::memory_order_relaxed);
    e->hash = hash;
    e->value_len = static_cast<uint32_t>(value.size());
    e->key_len = static_cast<uint16_t>(key.size());
    e->format = format;
    e->flags.store(static_cast<uint8_t>((timed ? kTimed : 0) | (idle ? kIdle : 0)), std::memory_order_relaxed);
    e->chain = e->prev = e->next = nullptr;
    if (timed) {
      Timed* t = idle ? new (e + 1) IdleTimed : new (e + 1) Timed;
      t->expires_at.store(expires_at, std::memory_order_relaxed);
      t->wprev = t->wnext = nullptr;
      if (idle) static_cast<IdleTimed*>(t)->hard_expires_at = hard_expires_at;
    }
    char* p = reinterpret_cast<char*>(mem) + head;
    if (!key.empty()) std::memcpy(p, key.data(), key.size());
    if (!value.empty()) std::memcpy(p + key.size(), value.data(), value.size());
    return e;
  }

  bool timed() const { return flags.load(std::memory_order_relaxed) & kTimed; }
  bool idle() const { return flags.load(std::memory_order_relaxed) & kIdle; }
  Timed* timing() { return reinterpret_cast<Timed*>(this + 1); }
  const Timed* timing() const { return reinterpret_cast<const Timed*>(this + 1); }
  int64_t expires_at() const { return timed() ? timing()->expires_at.load(std::memory_order_relaxed) : 0; }
  bool expired(int64_t now) const {
    int64_t e = expires_at();
    return e != 0 && e <= now;
  }

  const char* bytes() const {
    const uint8_t f = flags.load(std::memory_order_relaxed);
    return reinterpret_cast<const char*>(this) + header_size(f & kTimed, f & kIdle);
  }
  std::string_view key() const { return {bytes(), key_len}; }
  std::string_view value() const { return {bytes() + key_len, value_len}; }

  Queue queue() const { return static_cast<Queue>(flags.load(std::memory_order_relaxed) & kQueueMask); }
  void set_queue(Queue q) {
    uint8_t f = flags.load(std::memory_order_relaxed);
    while (!flags.compare_exchange_weak(f, static_cast<uint8_t>((f & ~kQueueMask) | q), std::memory_order_relaxed)) {
    }
  }
  bool in_map() const { return flags.load(std::memory_order_relaxed) & kInMap; }
  void set_in_map(bool on) {
    if (on) flags.fetch_or(kInMap, std::memory_order_relaxed);
    else flags.fetch_and(static_cast<uint8_t>(~kInMap), std::memory_order_relaxed);
  }

  void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) detail::destroy_entry(this);
  }
  // A handle for the caller; takes a new reference.
  ValueRef ref() {
    retain();
    auto v = value();
    return ValueRef::adopt(this, v.data(), v.size(), format);
  }
};

static_assert(sizeof(Entry) == 40, "Entry header layout");

}  // namespace stratacache::l1
