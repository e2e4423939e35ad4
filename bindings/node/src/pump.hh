// The completion pump: one stratacache_queue per Node environment, watched by a libuv
// poll handle on the loop thread. Completions of every submission wait in the queue
// until the loop sees its eventfd readable and drains it, so callbacks (and the
// Promise settlements they make) always run on the loop thread, inside a callback
// scope that runs the microtasks they queue. The poll handle is referenced only
// while calls are in flight: an idle cache never keeps the process alive.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstddef>

#include "stratacache.h"

namespace stratacache_node {

class Pump {
 public:
  explicit Pump(Napi::Env env);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  stratacache_queue* queue() const { return queue_; }
  // Bracket every accepted submission: started() after the library accepted it,
  // finished() when its callback ran.
  void started();
  void finished();

 private:
  static void on_readable(uv_poll_t* handle, int status, int events);
  static void on_env_exit(void* arg);
  void drain();

  napi_env env_;
  stratacache_queue* queue_ = nullptr;
  uv_poll_t* poll_ = nullptr;  // freed by its close callback
  napi_async_context context_ = nullptr;
  napi_ref resource_ = nullptr;
  size_t in_flight_ = 0;
};

}  // namespace stratacache_node
