// Links the installed C++ core (stratacache::core) and the C ABI (stratacache::stratacache).
#include <stratacache.h>

#include <cstdio>
#include <stratacache/cache.hpp>

int main() {
  auto cache = stratacache::Cache::open("mem://");
  if (!cache) return 1;
  if (!(*cache)->set_value("k", stratacache::Value::Map{{"a", 1}})) return 2;
  auto v = (*cache)->get_value("k");
  if (!v || v->find("a") == nullptr || v->find("a")->as_int() != 1) return 3;
  if (stratacache_version_number() != STRATACACHE_VERSION_NUMBER) return 4;
  std::printf("consumer ok: core %s, C ABI %s\n", stratacache::version_string(), stratacache_version_string());
  return 0;
}
