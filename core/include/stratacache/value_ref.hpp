// A reference to an immutable cached value. L1 entries are single allocations (key +
// value + bookkeeping) with a reference count: a hit hands out a ValueRef that shares
// the bytes (no copy), and the bytes stay valid for as long as the ValueRef lives, even
// after the entry is evicted, replaced or deleted.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "stratacache/codec.hpp"

namespace stratacache {

namespace detail {
struct RefCounted {
  std::atomic<uint32_t> refs;
};
// Frees an entry whose count reached zero.
void destroy_entry(RefCounted* e) noexcept;
}  // namespace detail

class ValueRef {
 public:
  ValueRef() = default;
  ValueRef(const ValueRef& o) noexcept : e_(o.e_), data_(o.data_), size_(o.size_), format_(o.format_) {
    if (e_) e_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  ValueRef(ValueRef&& o) noexcept : e_(o.e_), data_(o.data_), size_(o.size_), format_(o.format_) { o.e_ = nullptr; }
  ValueRef& operator=(ValueRef o) noexcept {
    swap(o);
    return *this;
  }
  ~ValueRef() { reset(); }

  explicit operator bool() const noexcept { return e_ != nullptr; }
  std::string_view data() const noexcept { return {data_, size_}; }
  size_t size() const noexcept { return size_; }
  Format format() const noexcept { return format_; }
  Payload to_payload() const { return Payload{format_, std::string(data_, size_)}; }

  void reset() noexcept {
    if (e_ && e_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) detail::destroy_entry(e_);
    e_ = nullptr;
  }
  void swap(ValueRef& o) noexcept {
    std::swap(e_, o.e_);
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(format_, o.format_);
  }

  // The bytes from `offset` on, read as `format`, sharing the same entry (internal use).
  ValueRef sub(size_t offset, Format format) const noexcept {
    ValueRef r(*this);
    r.data_ += offset;
    r.size_ -= offset;
    r.format_ = format;
    return r;
  }

  // Adopts one reference the caller already holds (internal use).
  static ValueRef adopt(detail::RefCounted* e, const char* data, size_t size, Format format) noexcept {
    ValueRef r;
    r.e_ = e;
    r.data_ = data;
    r.size_ = size;
    r.format_ = format;
    return r;
  }

 private:
  detail::RefCounted* e_ = nullptr;
  const char* data_ = nullptr;
  size_t size_ = 0;
  Format format_ = Format::kRaw;
};

}  // namespace stratacache
