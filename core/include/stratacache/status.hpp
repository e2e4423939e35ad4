// Status and Result<T>: expected outcomes are values, not exceptions.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace stratacache {

// Codes carry retry meaning: kUnavailable / kTimeout may succeed later, kDataLoss
// (a corrupt stored value) and kInvalidArgument never will. kNotFound is a normal miss.
enum class StatusCode : int {
  kOk = 0,
  kNotFound = 1,          // cache miss / key does not exist
  kInvalidArgument = 2,   // bad key, bad URL parameter, bad value
  kUnavailable = 3,       // L2 unreachable, connection lost, circuit open
  kTimeout = 4,           // deadline passed before the reply
  kDataLoss = 5,          // stored value malformed / tampered / unknown version
  kTooLarge = 6,          // value or reply over a configured limit
  kPermissionDenied = 7,  // AUTH / ACL failure
  kWrongType = 8,         // e.g. increment on a key holding a non-integer value
  kUnsupported = 9,       // operation not supported by this configuration
  kInternal = 10,         // bug or unexpected server reply
  kAborted = 11,          // a read-through lease expired or was taken over: the fill was refused
  kLoadFailed = 12,       // a read-through loader failed (this call's or the one it waited for)
};

// Static, never-null description of a code.
const char* status_code_name(StatusCode code) noexcept;

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status not_found(std::string msg = "not found") { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status invalid_argument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
inline Status unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status timeout_error(std::string msg) { return {StatusCode::kTimeout, std::move(msg)}; }
inline Status data_loss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }
inline Status too_large(std::string msg) { return {StatusCode::kTooLarge, std::move(msg)}; }
inline Status internal_error(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  Status status() const { return is_ok() ? Status() : std::get<Status>(v_); }
  StatusCode code() const { return is_ok() ? StatusCode::kOk : std::get<Status>(v_).code(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace stratacache
