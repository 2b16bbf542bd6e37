// Copyright 2026 The datanode Authors.
// libFuzzer target: request validation of the daemon's MatMul path with inline
// weights on the reference backend. The input picks the op and shape and supplies
// the operand bytes (possibly of the wrong size or with invalid values); the call
// must either fail cleanly or produce an output of the right size and digest.
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "datanode/ops/backend.h"
#include "datanode/ops/digest.h"
#include "node/daemon/node_service.h"

namespace {
using namespace datanode;

struct World {
  World() {
    backend = std::move(*ops::CreateBackend("reference"));
    auto root = std::filesystem::temp_directory_path() / "dn_fuzz_store";
    store = std::move(*node::WeightStore::Open({root, 0, false}));
    models = std::move(*node::ModelRegistry::Open(store.get()));
    service =
        std::make_unique<node::NodeService>(backend.get(), store.get(), models.get(), 1 << 20);
  }
  std::unique_ptr<ops::Backend> backend;
  std::unique_ptr<node::WeightStore> store;
  std::unique_ptr<node::ModelRegistry> models;
  std::unique_ptr<node::NodeService> service;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  if (size < 8) return 0;
  node::MatMulCall call;
  call.kind = static_cast<ops::OpKind>(data[0] % 9);  // includes invalid / non-matmul kinds
  call.m = data[1] % 5;
  call.n = data[2] % 5;
  call.k = (data[3] % 4) * 32 + (data[4] % 2);
  size_t la = data[5] * 4u, lw = data[6] * 4u, ls = data[7] % 32;
  ops::ByteSpan rest(data + 8, size - 8);
  auto take = [&rest](size_t n) {
    n = std::min(n, rest.size());
    ops::ByteSpan s = rest.subspan(0, n);
    rest = rest.subspan(n);
    return s;
  };
  call.a = take(la);
  call.w = take(lw);
  call.a_scale = take(ls);
  call.w_scale = take(ls);
  auto r = world->service->MatMul(call);
  if (!r.ok()) return 0;
  auto sizes = ops::ComputeOperandSizes(call.kind, call.m, call.n, call.k);
  if (!sizes.ok() || static_cast<int64_t>(r->out.size()) != sizes->out) abort();
  if (r->output_digest != ops::ToHex(ops::Sha256Of({ops::ByteSpan(r->out)}))) abort();
  return 0;
}
