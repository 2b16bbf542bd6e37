// Copyright 2026 The datanode Authors.
//
// libFuzzer target: the shim's Candid decoder on hostile bytes, through every typed
// entry point a canister call reaches. Decoding must fail cleanly or succeed; a decoded
// argument must re-encode to bytes that decode to the same value.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "node/shim/interface.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace datanode::shim;
  const std::span<const uint8_t> bytes(data, size);
  if (auto args = DecodeMatMulArgs(bytes); args.ok()) {
    const std::vector<uint8_t> again = EncodeMatMulArgs(*args);
    auto round_trip = DecodeMatMulArgs(again);
    if (!round_trip.ok() || EncodeMatMulArgs(*round_trip) != again) __builtin_trap();
  }
  (void)DecodeMatMulReply(bytes);
  (void)DecodeListModelsArgs(bytes);
  (void)DecodeListModelsReply(bytes);
  (void)DecodePriceArgs(bytes);
  (void)DecodePriceReply(bytes);
  return 0;
}
