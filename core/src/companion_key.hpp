// Keys that live next to another key, and unguessable tokens: shared by the features
// that keep state beside an entry in Redis (read-through leases, tags, dependencies,
// locks).
#pragma once

#include <string>
#include <string_view>

namespace stratacache {

// A key in `full`'s hash slot, named after it: full + mark + "{" + tag + "}", where the
// tag is a short string of that slot. If `full` has a hash tag, that one still decides
// (it comes first); else the tag moves the companion into full's slot, so one script
// can touch both on a Cluster. mark: e.g. "~lease".
std::string companion_key(std::string_view full, std::string_view mark);

// 128 random bits as 32 hex characters (OpenSSL's RAND_bytes).
std::string random_token();

}  // namespace stratacache
