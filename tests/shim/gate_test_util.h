// Copyright 2026 The datanode Authors.
//
// Shared by the admission-gate tests (admission_gate_test.cc, fault_eviction_test.cc):
// a small operator class, a one-tensor safetensors model, and one replica's ic0_accel
// handle on a daemon, optionally requiring the class.
#ifndef DATANODE_TESTS_SHIM_GATE_TEST_UTIL_H_
#define DATANODE_TESTS_SHIM_GATE_TEST_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ic0_accel.h"
#include "node/shim/interface.h"

namespace datanode::gate_test {
namespace fs = std::filesystem;

inline constexpr char kClass[] = "gate_test_pc";
inline constexpr char kNonce[] = "b0a1c2d3e4f5061728394a5b6c7d8e9f";
inline constexpr int64_t kN = 16, kK = 64, kM = 4;

// A compute class small enough for a loaded 2-core machine (a quick run takes a few
// seconds), its throughput floor `gops`: far below an honest CPU at 0.1, out of any
// device's reach at 1e9.
inline std::string ClassText(const std::string& gops) {
  return absl::StrCat(R"pb(
                        name: "gate_test_pc"
                        spec_version: 2
                        compute { allowed_backends: [ "cpu", "reference" ]
                                  required_ops: [ "matmul_s8_s32" ]
                                  min_device_memory_mib: 64
                                  canonical_shape { m: 64 n: 128 k: 128 }
                                  min_s8_gops:)pb",
                      gops, R"pb(
      min_memory_bandwidth_gbps: 0.01
      max_repeat_speedup: 3.0
      max_challenge_seconds: 10
    }
          quick { challenge_count: 1 sampled_rows: 1 stability_repetitions: 2 memory_test_mib: 1
            performance_seconds: 0.2 }
    full { challenge_count: 1 sampled_rows: 1 stability_repetitions: 2 memory_test_mib: 1
           performance_seconds: 0.2 }
  )pb");
}

// A safetensors file holding one I8 tensor "w" [kN, kK] of `w`.
inline void WriteModel(const fs::path& path, const std::vector<uint8_t>& w) {
  std::string header = absl::StrCat(R"({"w":{"dtype":"I8","shape":[)", kN, ",", kK,
                                    R"(],"data_offsets":[0,)", w.size(), "]}}");
  header.append((8 - header.size() % 8) % 8, ' ');
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
  f << header;
  f.write(reinterpret_cast<const char*>(w.data()), static_cast<std::streamsize>(w.size()));
}

// One ic0_accel handle on the daemon, requiring `required_class` (null: none).
class Replica {
 public:
  Replica(const std::string& socket, const char* required_class) {
    ic0_accel_config c{};
    c.abi_version = IC0_ACCEL_ABI_VERSION;
    address_ = "unix:" + socket;
    c.daemon_address = address_.c_str();
    c.subnet_size = 13;
    c.timeout_ms = 10000;
    c.required_class = required_class;
    char err[256] = {};
    EXPECT_EQ(ic0_accel_create(&c, &h_, err, sizeof err), 0) << err;
  }
  ~Replica() { ic0_accel_destroy(h_); }

  struct Result {
    uint32_t code;
    std::string message;       // a reject's
    std::vector<uint8_t> out;  // a reply's MatMulReply.out
    uint64_t cycles_charged_low;
  };
  Result MatMul(const std::vector<uint8_t>& arg) {
    ic0_accel_result r{};
    const std::string method(shim::kMethodMatMul);
    ic0_accel_call(h_, method.data(), method.size(), arg.data(), arg.size(), UINT64_MAX, 0, &r);
    Result out{r.reject_code, "", {}, r.cycles_charged_low};
    if (r.reject_code == IC0_ACCEL_REPLY) {
      auto reply = shim::DecodeMatMulReply({r.data, r.data_len});
      EXPECT_TRUE(reply.ok()) << reply.status();
      if (reply.ok()) out.out = reply->out;
    } else {
      out.message.assign(reinterpret_cast<const char*>(r.data), r.data_len);
    }
    ic0_accel_result_free(&r);
    return out;
  }

 private:
  std::string address_;
  ic0_accel* h_ = nullptr;
};

}  // namespace datanode::gate_test

#endif  // DATANODE_TESTS_SHIM_GATE_TEST_UTIL_H_
