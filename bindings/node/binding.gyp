{
  "targets": [
    {
      "target_name": "stratacache_native",
      "sources": [
        "src/addon.cc",
        "src/cache.cc",
        "src/calls.cc",
        "src/errors.cc",
        "src/lease.cc",
        "src/pump.cc",
        "src/values_json.cc",
        "src/values_msgpack.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O2", "<!@(pkg-config --cflags stratacache)"],
      "libraries": [
        "<!@(pkg-config --libs stratacache)",
        "-Wl,-rpath,<!(pkg-config --variable=libdir stratacache)"
      ]
    }
  ]
}
