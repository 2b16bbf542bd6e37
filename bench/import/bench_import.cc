// Copyright 2026 The datanode Authors.
//
// Model import vs a durable copy. For each file size, in rounds on the same file:
//   cp + sync:  `cp SRC DST && sync` (the anchor: the kernel's own copy, made durable;
//               the time includes the sync);
//   import:     ModelRegistry::ImportFile into a fresh store with fsync on (the data,
//               the renames and directories durable, manifest and registration), in
//               this process, the code the daemon runs;
// and prints both throughputs, their ratio per round and the median ratio, the
// import's CPU time (user + system of this process) and its peak resident memory
// (VmHWM, reset before each import via /proc/self/clear_refs). The two alternate which
// goes first. Untimed `sync` calls separate the phases so neither pays for the other's
// writeback. Page cache: by default the source is cached for both (it was just
// written: what an import of a file just downloaded or copied sees); --cold drops its
// pages (posix_fadvise DONTNEED after a sync) before each phase, so both read it from
// the disk.
// usage: bench_import [--sizes-mb 512,4096] [--rounds 3] [--readers 2] [--writers 4]
//                     [--buffers 12] [--pack-min-mb 64] [--buffered-reads] [--cold]
//                     [--dir DIR]
//                     [--no-fsync (diagnosis: the import's cost without durability)]
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "datanode/ops/random_inputs.h"
#include "node/import/model_registry.h"

namespace datanode {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A safetensors file holding one U8 tensor "w" of `bytes` pseudo-random bytes, fsynced.
void WriteModel(const fs::path& path, int64_t bytes) {
  std::string header = "{\"w\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(bytes) +
                       "],\"data_offsets\":[0," + std::to_string(bytes) + "]}}";
  while (header.size() % 8) header.push_back(' ');
  const uint64_t len = header.size();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(&len, 8, 1, f);
  std::fwrite(header.data(), 1, header.size(), f);
  ops::SplitMix64 rng(17);
  std::vector<uint64_t> buf(1 << 17);  // 1 MiB
  for (int64_t done = 0; done < bytes;) {
    for (auto& w : buf) w = rng.Next();
    const size_t take = static_cast<size_t>(std::min<int64_t>(1 << 20, bytes - done));
    std::fwrite(buf.data(), 1, take, f);
    done += static_cast<int64_t>(take);
  }
  std::fflush(f);
  ::fsync(::fileno(f));
  std::fclose(f);
}

int64_t StatusKb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + std::strlen(key));
  }
  return -1;
}

void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Drops the file's pages from the page cache (clean after a sync), so the next read of
// it goes to the disk.
void DropFromCache(const fs::path& path) {
  ::sync();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

int Usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: bench_import [--sizes-mb 512,4096] [--rounds 3] [--readers 2] "
               "[--writers 4] [--buffers 12] [--pack-min-mb 64] [--buffered-reads] [--cold] "
               "[--dir DIR] [--no-fsync]\n",
               why);
  return 2;
}

int Main(int argc, char** argv) {
  std::vector<int64_t> sizes_mb = {512, 4096};
  int rounds = 3;
  node::FileCopyOptions copy;
  bool fsync = true;
  bool cold = false;
  fs::path dir = fs::temp_directory_path() / ("bench_import_" + std::to_string(::getpid()));
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--no-fsync") {  // diagnosis only: the import without durability
      fsync = false;
      continue;
    }
    if (flag == "--buffered-reads") {  // FileCopyOptions::direct_reads = false
      copy.direct_reads = false;
      continue;
    }
    if (flag == "--cold") {
      cold = true;
      continue;
    }
    if (i + 1 >= argc) return Usage(("missing value for " + flag).c_str());
    std::string value = argv[++i];
    if (flag == "--sizes-mb") {
      sizes_mb.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int64_t mb;
        if (!absl::SimpleAtoi(part, &mb) || mb < 1 || mb > (1 << 16)) return Usage("bad size");
        sizes_mb.push_back(mb);
      }
    } else if (flag == "--rounds") {
      if (!absl::SimpleAtoi(value, &rounds) || rounds < 1 || rounds > 100)
        return Usage("bad --rounds");
    } else if (flag == "--readers") {
      if (!absl::SimpleAtoi(value, &copy.readers) || copy.readers < 1 || copy.readers > 64)
        return Usage("bad --readers");
    } else if (flag == "--writers") {
      if (!absl::SimpleAtoi(value, &copy.writers) || copy.writers < 1 || copy.writers > 64)
        return Usage("bad --writers");
    } else if (flag == "--buffers") {
      if (!absl::SimpleAtoi(value, &copy.buffers) || copy.buffers < 2 || copy.buffers > 256)
        return Usage("bad --buffers");
    } else if (flag == "--pack-min-mb") {
      int64_t mb;
      if (!absl::SimpleAtoi(value, &mb) || mb < 0) return Usage("bad --pack-min-mb");
      copy.pack_min_bytes = mb << 20;
    } else if (flag == "--dir") {
      dir = value;
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  fs::create_directories(dir);
  std::printf(
      "# bench_import: %d rounds per size; %d readers (%s), %d writers, %d buffers, packs "
      "from %lld MiB; source %s for both; dir %s (store fsync %s)\n",
      rounds, copy.readers, copy.direct_reads ? "uncached chunks direct" : "buffered", copy.writers,
      copy.buffers, static_cast<long long>(copy.pack_min_bytes >> 20),
      cold ? "COLD (dropped from the page cache before each phase)" : "in the page cache",
      dir.c_str(), fsync ? "on" : "OFF: not a valid result");
  for (int64_t mb : sizes_mb) {
    const int64_t bytes = mb << 20;
    const fs::path src = dir / "model.safetensors", dst = dir / "copy.safetensors";
    const fs::path store_dir = dir / "store";
    WriteModel(src, bytes);
    ::sync();
    std::vector<double> ratios;
    int64_t peak_kb = 0;
    for (int r = 0; r < rounds; ++r) {
      double cp_s = 0, import_s = 0, import_cpu_s = 0;
      int64_t hwm_kb = 0, rss_before_kb = 0;
      auto copy_once = [&]() -> bool {
        ::sync();
        if (cold) DropFromCache(src);
        const auto t0 = Clock::now();
        const std::string cmd = "cp '" + src.string() + "' '" + dst.string() + "' && sync";
        if (std::system(cmd.c_str()) != 0) return false;
        cp_s = Secs(t0, Clock::now());
        fs::remove(dst);
        ::sync();
        return true;
      };
      auto import_once = [&]() -> bool {
        fs::remove_all(store_dir);
        auto store = node::WeightStore::Open({store_dir, 0, fsync});
        if (!store.ok()) return false;
        auto registry = node::ModelRegistry::Open(store->get());
        if (!registry.ok()) return false;
        ::sync();
        if (cold) DropFromCache(src);
        node::ImportOptions options;
        options.copy = copy;
        ResetPeakRss();
        rss_before_kb = StatusKb("VmRSS:");
        const double cpu0 = CpuSeconds();
        const auto t0 = Clock::now();
        auto result = (*registry)->ImportFile(src, options);
        import_s = Secs(t0, Clock::now());
        import_cpu_s = CpuSeconds() - cpu0;
        hwm_kb = StatusKb("VmHWM:");
        if (!result.ok()) {
          std::fprintf(stderr, "import failed: %s\n", result.status().ToString().c_str());
          return false;
        }
        registry->reset();
        store->reset();
        fs::remove_all(store_dir);
        ::sync();
        return true;
      };
      const bool import_first = r % 2 == 1;
      if (import_first && !import_once()) return 1;
      if (!copy_once()) return Usage("cp failed");
      if (!import_first && !import_once()) return 1;
      peak_kb = std::max(peak_kb, hwm_kb);
      const double cp_mbs = static_cast<double>(bytes) / 1e6 / cp_s;
      const double import_mbs = static_cast<double>(bytes) / 1e6 / import_s;
      ratios.push_back(import_mbs / cp_mbs);
      std::printf(
          "%5lld MB round %d: import %7.1f MB/s   cp + sync %7.1f MB/s   ratio %.2fx   "
          "import CPU %.2f s in %.2f s, peak RSS %.1f MB (%.1f MB before)%s\n",
          static_cast<long long>(mb), r + 1, import_mbs, cp_mbs, ratios.back(), import_cpu_s,
          import_s, static_cast<double>(hwm_kb) / 1024, static_cast<double>(rss_before_kb) / 1024,
          import_first ? "  (import first)" : "");
      std::fflush(stdout);
    }
    std::sort(ratios.begin(), ratios.end());
    std::printf(
        "%5lld MB: median import / (cp + sync) = %.2fx over %d rounds (min %.2fx, max "
        "%.2fx); peak RSS during import %.1f MB\n",
        static_cast<long long>(mb), ratios[ratios.size() / 2], rounds, ratios.front(),
        ratios.back(), static_cast<double>(peak_kb) / 1024);
    fs::remove(src);
  }
  fs::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace datanode

int main(int argc, char** argv) { return datanode::Main(argc, argv); }
