#pragma once
// The log hook: one process-wide handler receives what the library has to say
// (connections, breaker transitions, failovers, decode errors, slow operations and, at
// debug level, every operation). Without a handler nothing is formatted or written.
#include <functional>
#include <string_view>

namespace stratacache {

enum class LogLevel : int { kDebug = 10, kInfo = 20, kWarning = 30, kError = 40, kOff = 100 };

// `event` is a stable dotted name ("l2.connection_lost", "breaker.open", "op.slow", ...),
// `message` the human text. Both are valid only during the call. The handler runs on
// whichever thread the event happened (often the L2 I/O thread): it must be quick,
// thread-safe, and must not call back into a cache.
using LogHandler = std::function<void(LogLevel level, std::string_view event, std::string_view message)>;

// Installs (or, with an empty handler, removes) the handler; events below `min_level`
// are not formatted at all. Thread-safe; a handler being replaced may still receive
// events already under way on other threads until this call returns.
void set_log_handler(LogLevel min_level, LogHandler handler);

// True when an event at `level` would reach a handler: one relaxed atomic load, so call
// sites test it before formatting anything.
bool log_enabled(LogLevel level) noexcept;

// Delivers one event (no-op below the installed level or without a handler).
void log_event(LogLevel level, std::string_view event, std::string_view message);

}  // namespace stratacache
