#include "stratacache/status.hpp"

namespace stratacache {

const char* status_code_name(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kUnavailable: return "unavailable";
    case StatusCode::kTimeout: return "timeout";
    case StatusCode::kDataLoss: return "corrupt value";
    case StatusCode::kTooLarge: return "too large";
    case StatusCode::kPermissionDenied: return "permission denied";
    case StatusCode::kWrongType: return "wrong type";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kInternal: return "internal error";
    case StatusCode::kAborted: return "aborted";
    case StatusCode::kLoadFailed: return "load failed";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  std::string s = status_code_name(code_);
  if (!message_.empty()) s += ": " + message_;
  return s;
}

}  // namespace stratacache
