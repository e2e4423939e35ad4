// Bélády's optimal offline policy (OPT), the upper bound on the hit ratio of any
// policy that may decline to insert (as W-TinyLFU's admission filter does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace stratacache::bench {

// A trace prepared once for OPT at any number of cache sizes.
class BeladyTrace {
 public:
  explicit BeladyTrace(const std::vector<uint64_t>& keys);

  size_t requests() const { return ids_.size(); }
  size_t unique_keys() const { return unique_; }
  // Hits of OPT with `capacity` entries. On a miss the requested key is inserted unless
  // it is never requested again or its next request is the farthest of all (then
  // inserting it could only evict something more useful); otherwise the resident key
  // requested farthest in the future is evicted. O(n log capacity).
  uint64_t hits(size_t capacity) const;

 private:
  std::vector<uint32_t> ids_;   // dense key ids, in request order
  std::vector<uint32_t> next_;  // index of the next request of the same key; kNever if none
  size_t unique_ = 0;
};

}  // namespace stratacache::bench
