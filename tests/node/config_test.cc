// Copyright 2026 The datanode Authors.
//
// Unit tests of the daemon's config (empty / partial / unknown / full / invalid, as
// the IC adapters test theirs), the node key, the LRU pinning cache and the cost
// formula.
#include "node/daemon/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "datanode/ops/backend.h"
#include "gtest/gtest.h"
#include "node/daemon/admission.h"
#include "node/daemon/node_service.h"
#include "node/daemon/weight_cache.h"

namespace datanode::node {
namespace {

TEST(ConfigTest, EmptyGivesNamedDefaults) {
  auto c = ConfigFromText("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->socket_path, Config::kDefaultSocketPath);
  EXPECT_EQ(c->store_root, Config::kDefaultStoreRoot);
  EXPECT_EQ(c->backend, "cpu");
  EXPECT_EQ(c->pin_budget_bytes, Config::kDefaultPinBudgetBytes);
  EXPECT_TRUE(c->store_fsync);
  EXPECT_TRUE(c->allowed_uids.empty());
}

TEST(ConfigTest, PartialOverridesOnlyWhatIsSet) {
  auto c =
      ConfigFromText("backend: \"reference\"\nlimits { max_in_flight: 3 }\nstore_fsync: false\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->backend, "reference");
  EXPECT_EQ(c->max_in_flight, 3);
  EXPECT_EQ(c->max_ops_per_second, Config::kDefaultMaxOpsPerSecond);
  EXPECT_FALSE(c->store_fsync);
  EXPECT_EQ(c->socket_path, Config::kDefaultSocketPath);
}

TEST(ConfigTest, FullConfigParses) {
  auto c = ConfigFromText(R"(
    socket_path: "/run/x/sock" metrics_socket_path: "/run/x/m" tcp_address: "127.0.0.1:5000"
    store_root: "/var/lib/dn" store_capacity_bytes: 1000000 backend: "cuda" backend_threads: 2
    pin_budget_bytes: 0 executor_threads: 8 allowed_uids: 0 allowed_uids: 1000
    limits { max_request_bytes: 2048 max_in_flight: 1 max_ops_per_second: 0.5 }
    log_level: "debug" drain_timeout_seconds: 0 store_fsync: true import_root: "/srv/models"
    tcp_auth_token: "0123456789abcdef0123456789abcdef" import_timeout_seconds: 60)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->import_timeout_seconds, 60);
  EXPECT_EQ(ConfigToString(*c).find("0123456789abcdef"), std::string::npos);  // never logged
  EXPECT_EQ(c->allowed_uids, (std::vector<uint32_t>{0, 1000}));
  EXPECT_EQ(c->tcp_address, "127.0.0.1:5000");
  EXPECT_EQ(c->max_ops_per_second, 0.5);
  EXPECT_NE(ConfigToString(*c).find("allowed_uids=[0,1000]"), std::string::npos);
}

TEST(ConfigTest, UnknownAndInvalidFieldsAreRejectedWithTheirName) {
  auto unknown = ConfigFromText("sockett_path: \"x\"");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("sockett_path"), std::string::npos) << unknown.status();
  for (const auto& [text, field] : std::vector<std::pair<std::string, std::string>>{
           {"tcp_address: \"0.0.0.0:1\"", "tcp_address"},
           {"tcp_address: \"127.0.0.1:1\" import_root: \"/m\"", "tcp_auth_token"},
           {"tcp_address: \"127.0.0.1:1\" tcp_auth_token: \"" + std::string(32, 'x') + "\"",
            "import_root"},
           {"tcp_auth_token: \"short\"", "tcp_auth_token"},
           {"tcp_auth_token: \"" + std::string(31, 'x') + " \"", "tcp_auth_token"},
           {"import_timeout_seconds: 0", "import_timeout_seconds"},
           {"executor_threads: 0", "executor_threads"},
           {"limits { max_in_flight: 0 }", "max_in_flight"},
           {"limits { max_ops_per_second: -1 }", "max_ops_per_second"},
           {"log_level: \"loud\"", "log_level"},
           {"store_capacity_bytes: -5", "store_capacity_bytes"},
           {"socket_path: \"" + std::string(200, 'x') + "\"", "socket_path"}}) {
    auto c = ConfigFromText(text);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(c.status().message().find(field), std::string::npos) << c.status();
  }
  EXPECT_EQ(LoadConfigFile("/nonexistent/dn.conf").status().code(), absl::StatusCode::kNotFound);
}

TEST(ConfigTest, NodeKeyDefaultsToTheStateDirBesideTheStore) {
  auto c = ConfigFromText("store_root: \"/var/lib/datanode/store\"");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_key_path, "");
  EXPECT_EQ(NodeKeyPath(*c), "/var/lib/datanode/node-key.pem");
  EXPECT_NE(ConfigToString(*c).find("node_key_path=/var/lib/datanode/node-key.pem"),
            std::string::npos);
  auto defaults = ConfigFromText("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(NodeKeyPath(*defaults), Config::kDefaultNodeKeyFile);  // beside ./store
  auto slash = ConfigFromText("store_root: \"/srv/dn/store/\"");
  ASSERT_TRUE(slash.ok());
  EXPECT_EQ(NodeKeyPath(*slash), "/srv/dn/node-key.pem");  // never inside the store
  auto set = ConfigFromText("node_key_path: \"/etc/datanode/key.pem\"");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(NodeKeyPath(*set), "/etc/datanode/key.pem");
  auto dir = ConfigFromText("node_key_path: \"/etc/datanode/\"");
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dir.status().message().find("node_key_path"), std::string::npos) << dir.status();
}

TEST(NodeKeyTest, CreatedOnceWithMode0600AndRefusedWhenExposedOrInvalid) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("dn_node_key_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string key = (dir / "state" / "node-key.pem").string();
  bool created = false;
  auto pub = EnsureNodeKey(key, &created);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_TRUE(created);
  EXPECT_EQ(pub->size(), 32u);
  EXPECT_TRUE(std::filesystem::exists(dir / "state" / "node-key.pub.pem"));
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto again = EnsureNodeKey(key, &created);  // a restart keeps the node's identity
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(created);
  EXPECT_EQ(*again, *pub);

  ::chmod(key.c_str(), 0644);
  auto exposed = EnsureNodeKey(key, &created);
  EXPECT_EQ(exposed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(exposed.status().message().find("644"), std::string::npos) << exposed.status();

  const std::string junk = (dir / "junk.pem").string();
  std::ofstream(junk) << "not a key";
  ::chmod(junk.c_str(), 0600);
  EXPECT_EQ(EnsureNodeKey(junk, &created).status().code(), absl::StatusCode::kFailedPrecondition);
  std::filesystem::remove_all(dir);
}

TEST(SubnetKeysTest, OneHexKeyPerLineInNodeOrderAndBadListsNamed) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("dn_subnet_keys_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string a(64, 'a'), b(64, 'B');
  std::ofstream(dir / "keys") << "# subnet 1\n" << a << "\n\n  " << b << "  \n";
  auto keys = LoadSubnetKeys((dir / "keys").string());
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0][0], 0xaa);
  EXPECT_EQ((*keys)[1][31], 0xbb);
  std::ofstream(dir / "short") << a << "\n" << a.substr(2) << "\n";
  auto short_key = LoadSubnetKeys((dir / "short").string());
  EXPECT_EQ(short_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(short_key.status().message().find("short:2:"), std::string::npos) << short_key.status();
  std::ofstream(dir / "twice") << a << "\n" << b << "\n" << a << "\n";
  auto twice = LoadSubnetKeys((dir / "twice").string());
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(twice.status().message().find("twice:3: the key of node 0 again"), std::string::npos)
      << twice.status();
  EXPECT_EQ(LoadSubnetKeys((dir / "missing").string()).status().code(),
            absl::StatusCode::kNotFound);
  auto c = ConfigFromText("subnet_keys_path: \"/etc/datanode/subnet-keys.txt\"");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->subnet_keys_path, "/etc/datanode/subnet-keys.txt");
  EXPECT_FALSE(ConfigFromText("subnet_keys_path: \"/etc/\"").ok());
  std::filesystem::remove_all(dir);
}

TEST(WeightCacheTest, EvictsLeastRecentlyUsedWithinBudget) {
  auto backend = ops::CreateBackend("reference");
  ASSERT_TRUE(backend.ok());
  auto make = [&](int64_t n) {
    std::vector<uint8_t> w(static_cast<size_t>(n * 32), 1);
    auto p = (*backend)->PrepareWeights(ops::OpKind::kMatMulS8S32, n, 32, w, {});
    EXPECT_TRUE(p.ok());
    return std::shared_ptr<const ops::PreparedWeights>(std::move(*p));
  };
  WeightCache cache(100);   // bytes
  cache.Put("a", make(1));  // 32 bytes
  cache.Put("b", make(1));
  cache.Put("c", make(1));
  EXPECT_EQ(cache.used_bytes(), 96);
  EXPECT_NE(cache.Get("a"), nullptr);  // a becomes most recent
  cache.Put("d", make(1));             // evicts b, the least recently used
  EXPECT_EQ(cache.Get("b"), nullptr);
  EXPECT_NE(cache.Get("a"), nullptr);
  EXPECT_EQ(cache.used_bytes(), 96);
  auto big = make(4);  // 128 bytes > budget: not kept, nothing evicted
  cache.Put("big", big);
  EXPECT_EQ(cache.Get("big"), nullptr);
  EXPECT_EQ(cache.used_bytes(), 96);
  EXPECT_EQ(cache.evictions(), 1);
}

TEST(CostTest, FormulaDependsOnShapesAndFormatsOnly) {
  // ceil(M*N*K / 64) + ceil(|W| / 64): the compute share of the shim's published price.
  auto c = MatMulCycles(ops::OpKind::kMatMulS8S32, 64, 64, 64);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 64u * 64 * 64 / 64 + 64 * 64 / 64);
  auto q = MatMulCycles(ops::OpKind::kMatMulQ8_0Q4_0, 2, 8, 64);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, (2u * 8 * 64 + 63) / 64 + (8 * 2 * 18 + 63) / 64);
  auto k4 = MatMulCycles(ops::OpKind::kMatMulQ8_0Q4_K, 1, 3, 512);
  ASSERT_TRUE(k4.ok());
  EXPECT_EQ(*k4, (3u * 512 + 63) / 64 + (3 * 2 * 144 + 63) / 64);
  EXPECT_FALSE(MatMulCycles(ops::OpKind::kMatMulQ8_0Q8_0, 1, 1, 33).ok());
  EXPECT_FALSE(MatMulCycles(ops::OpKind::kMatMulQ8_0Q6_K, 1, 1, 128).ok());
  EXPECT_FALSE(MatMulCycles(ops::OpKind::kQuantizeQ8_0, 1, 0, 32).ok());
}

}  // namespace
}  // namespace datanode::node
