#include "register_log.hpp"

#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "errors.hpp"
#include "stratacache.h"

namespace py = pybind11;

namespace stratacache::python {
namespace {

constexpr size_t kCapacity = 4096;  // events waiting for the Python thread; more are dropped and counted

struct Event {
  int level;
  std::string event, message;
};

// Never destroyed: library threads may still log while the interpreter exits.
struct Buffer {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> events;
  uint64_t dropped = 0;
};
Buffer& buffer() {
  static Buffer* b = new Buffer();
  return *b;
}

// Runs on library threads: copies and returns, never waits for the GIL or the Python thread.
void on_log(void*, int level, const char* event, size_t event_len, const char* message, size_t message_len) noexcept {
  Buffer& b = buffer();
  try {
    std::lock_guard<std::mutex> lock(b.mu);
    if (b.events.size() >= kCapacity) {
      ++b.dropped;
      return;
    }
    b.events.push_back(Event{level, std::string(event, event_len), std::string(message, message_len)});
  } catch (...) {  // out of memory: the event is lost, and counted where possible
    return;
  }
  b.cv.notify_one();
}

void check(int rc) {
  if (rc == STRATACACHE_OK) return;
  raise_code(rc, Origin::kOperation);
  throw py::error_already_set();
}

}  // namespace

void register_log(py::module_& m) {
  m.def(
      "log_install", [](int min_level) { check(stratacache_set_log_handler(min_level, on_log, nullptr)); },
      py::arg("min_level"),
      "Install the log hook for events at min_level and above (10 debug ... 40 error); they wait in a bounded "
      "buffer for log_wait().");
  m.def(
      "log_remove", [] { check(stratacache_set_log_handler(0, nullptr, nullptr)); },
      "Remove the log hook (events already buffered stay for log_wait()).");
  m.def(
      "log_wait",
      [](double timeout) {
        std::vector<Event> got;
        uint64_t dropped = 0;
        {
          py::gil_scoped_release nogil;
          Buffer& b = buffer();
          std::unique_lock<std::mutex> lock(b.mu);
          b.cv.wait_for(lock, std::chrono::duration<double>(timeout < 0 ? 0 : timeout),
                        [&b] { return !b.events.empty() || b.dropped > 0; });
          got.assign(std::make_move_iterator(b.events.begin()), std::make_move_iterator(b.events.end()));
          b.events.clear();
          dropped = b.dropped;
          b.dropped = 0;
        }
        py::list out;
        for (Event& e : got) {
          // Messages may quote keys, which are bytes: undecodable bytes become U+FFFD.
          PyObject* message = PyUnicode_DecodeUTF8(e.message.data(), static_cast<Py_ssize_t>(e.message.size()), "replace");
          if (!message) throw py::error_already_set();
          out.append(py::make_tuple(e.level, py::str(e.event), py::reinterpret_steal<py::object>(message)));
        }
        return py::make_tuple(out, dropped);
      },
      py::arg("timeout"),
      "Wait up to timeout seconds for log events: ([(level, event, message), ...], events dropped since the last "
      "call because the buffer was full).");
}

}  // namespace stratacache::python
