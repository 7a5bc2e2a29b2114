{
  "targets": [
    {
      "target_name": "dcache_native",
      "sources": ["native/binding.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-O3", "-std=c++17"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
