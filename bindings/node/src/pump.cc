#include "pump.hh"

#include "addon.hh"

namespace stratacache_node {

Pump::Pump(Napi::Env env) : env_(env) {
  int rc = stratacache_queue_new(&queue_);
  if (rc != STRATACACHE_OK) throw_status(env, rc, stratacache_last_error());
  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));
  poll_ = new uv_poll_t;
  poll_->data = this;
  if (uv_poll_init(loop, poll_, stratacache_queue_fd(queue_)) != 0 ||
      uv_poll_start(poll_, UV_READABLE, on_readable) != 0) {
    delete poll_;
    poll_ = nullptr;
    throw Napi::Error::New(env, "stratacache: cannot watch the completion queue");
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  Napi::Object resource = Napi::Object::New(env);
  napi_create_reference(env, resource, 1, &resource_);
  napi_async_init(env, resource, Napi::String::New(env, "stratacache"), &context_);
  napi_add_env_cleanup_hook(env, on_env_exit, this);
}

Pump::~Pump() {
  napi_remove_env_cleanup_hook(env_, on_env_exit, this);
  on_env_exit(this);
}

// At environment teardown (process exit, worker end): stop watching, drop what waits.
void Pump::on_env_exit(void* arg) {
  auto* self = static_cast<Pump*>(arg);
  if (self->poll_) {
    uv_poll_stop(self->poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(self->poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    self->poll_ = nullptr;
  }
  if (self->context_) {
    napi_async_destroy(self->env_, self->context_);
    self->context_ = nullptr;
  }
  if (self->resource_) {
    napi_delete_reference(self->env_, self->resource_);
    self->resource_ = nullptr;
  }
  stratacache_queue_free(self->queue_);
  self->queue_ = nullptr;
}

void Pump::started() {
  if (in_flight_++ == 0 && poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
}

void Pump::finished() {
  if (--in_flight_ == 0 && poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
}

void Pump::on_readable(uv_poll_t* handle, int status, int) {
  if (status < 0) return;
  static_cast<Pump*>(handle->data)->drain();
}

void Pump::drain() {
  Napi::HandleScope scope(env_);
  napi_value resource;
  napi_get_reference_value(env_, resource_, &resource);
  // Closing the callback scope runs the microtasks the settlements queued.
  napi_callback_scope callback_scope;
  napi_open_callback_scope(env_, resource, context_, &callback_scope);
  stratacache_queue_drain(nullptr, queue_, 0);
  napi_close_callback_scope(env_, callback_scope);
}

}  // namespace stratacache_node
