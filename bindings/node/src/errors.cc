// Every failure becomes the error lib/errors.js makes for its status (one table there).
#include "addon.hh"

namespace stratacache_node {

Napi::Value make_error(Napi::Env env, int status, const char* message) {
  if (!message || !*message) message = stratacache_strerror(status);
  AddonData& d = addon_data(env);
  if (d.make_error.IsEmpty()) return Napi::Error::New(env, message).Value();
  return d.make_error.Call({Napi::Number::New(env, status), Napi::String::New(env, message)});
}

void throw_status(Napi::Env env, int status, const char* message) {
  throw Napi::Error(env, make_error(env, status, message));
}

}  // namespace stratacache_node
