// Copyright 2026 The datanode Authors.
#include "datanode/ops/digest.h"

namespace datanode::ops {

std::string OutputDigestHex(const OpArgs& args) {
  return ToHex(Sha256Of({ByteSpan(args.out), ByteSpan(args.out_scale)}));
}

}  // namespace datanode::ops
