// N-API glue only: argument checks that protect memory safety (bounds of the views), then a call into
// hash.h / ring.h. Defaults and friendly validation live in the TypeScript layer (src/consistent/native.ts).
#include <napi.h>

#include <cstdint>

#include "allocator.h"
#include "hash.h"
#include "ring.h"

namespace {

bool CheckRange(const Napi::Env& env, size_t bufferLength, uint32_t offset, uint32_t length) {
  if (static_cast<uint64_t>(offset) + length > bufferLength) {
    Napi::RangeError::New(env, "offset + length is outside the buffer").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// hash32(buffer, offset, length, seed) -> uint32
Napi::Value Hash32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array buffer = info[0].As<Napi::Uint8Array>();
  const uint32_t offset = info[1].As<Napi::Number>().Uint32Value();
  const uint32_t length = info[2].As<Napi::Number>().Uint32Value();
  const uint32_t seed = info[3].As<Napi::Number>().Uint32Value();
  if (!CheckRange(env, buffer.ByteLength(), offset, length)) return env.Undefined();
  return Napi::Number::New(env, dcache::Xxh32(buffer.Data() + offset, length, seed));
}

class NativeRing : public Napi::ObjectWrap<NativeRing> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeRing",
                       {InstanceMethod<&NativeRing::SetPoints>("setPoints"),

                        InstanceMethod<&NativeRing::LookupBatch>("lookupBatch")});
  }

  explicit NativeRing(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRing>(info) {}

 private:
  // setPoints(points: Uint32Array, owners: Int32Array): copies both; called once per ring change.
  void SetPoints(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Uint32Array points = info[0].As<Napi::Uint32Array>();
    Napi::Int32Array owners = info[1].As<Napi::Int32Array>();
    if (points.ElementLength() != owners.ElementLength()) {
      Napi::RangeError::New(env, "points and owners differ in length").ThrowAsJavaScriptException();
      return;
    }
    ring_.Assign(points.Data(), owners.Data(), points.ElementLength());
  }

  // lookupBatch(buffer, spans: Uint32Array [offset0, length0, offset1, length1, ...], count, out: Int32Array)
  // Writes the owner index of key i into out[i]. One call routes a whole read's worth of keys.
  void LookupBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Uint8Array buffer = info[0].As<Napi::Uint8Array>();
    Napi::Uint32Array spans = info[1].As<Napi::Uint32Array>();
    const uint32_t count = info[2].As<Napi::Number>().Uint32Value();
    Napi::Int32Array out = info[3].As<Napi::Int32Array>();
    if (static_cast<uint64_t>(count) * 2 > spans.ElementLength() || count > out.ElementLength()) {
      Napi::RangeError::New(env, "count exceeds the spans or the output array").ThrowAsJavaScriptException();
      return;
    }
    const uint8_t* data = buffer.Data();
    const size_t byteLength = buffer.ByteLength();
    const uint32_t* span = spans.Data();
    int32_t* owners = out.Data();
    for (uint32_t i = 0; i < count; i++) {
      const uint32_t offset = span[2 * i];
      const uint32_t length = span[2 * i + 1];
      if (!CheckRange(env, byteLength, offset, length)) return;
      owners[i] = ring_.Lookup(data + offset, length, 0);
    }
  }

  dcache::RingPoints ring_;
};

// tuneAllocator(trimThresholdBytes, mmapThresholdBytes) -> whether the C allocator took them (allocator.h)
Napi::Value TuneAllocator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int32_t trim = info[0].As<Napi::Number>().Int32Value();
  const int32_t mmap = info[1].As<Napi::Number>().Int32Value();
  if (trim <= 0 || mmap <= 0) {
    Napi::RangeError::New(env, "allocator thresholds must be positive").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Boolean::New(env, dcache::TuneAllocator(trim, mmap));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("hash32", Napi::Function::New<Hash32>(env, "hash32"));
  exports.Set("NativeRing", NativeRing::Define(env));
  exports.Set("tuneAllocator", Napi::Function::New<TuneAllocator>(env, "tuneAllocator"));
  return exports;
}

}  // namespace

NODE_API_MODULE(dcache_native, Init)
