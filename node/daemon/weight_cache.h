// Copyright 2026 The datanode Authors.
//
// Prepared weights pinned in the backend's memory (device memory for GPU backends),
// least-recently-used first out, within a byte budget (PreparedWeights::SizeBytes).
// Entries are shared_ptr: an evicted entry stays alive until running calls release
// it. An entry larger than the whole budget is returned to its caller but not kept.
// Thread-safe.
#ifndef DATANODE_NODE_DAEMON_WEIGHT_CACHE_H_
#define DATANODE_NODE_DAEMON_WEIGHT_CACHE_H_

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "datanode/ops/backend.h"

namespace datanode::node {

class WeightCache {
 public:
  explicit WeightCache(int64_t budget_bytes) : budget_(budget_bytes) {}

  std::shared_ptr<const ops::PreparedWeights> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);  // most recent first
    return it->second->second;
  }

  // Inserts (or replaces) and evicts the least recently used entries over budget.
  void Put(const std::string& key, std::shared_ptr<const ops::PreparedWeights> w) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      used_ -= it->second->second->SizeBytes();
      lru_.erase(it->second);
      index_.erase(it);
    }
    if (w->SizeBytes() > budget_) return;
    used_ += w->SizeBytes();
    lru_.emplace_front(key, std::move(w));
    index_[key] = lru_.begin();
    while (used_ > budget_ && !lru_.empty()) {
      used_ -= lru_.back().second->SizeBytes();
      index_.erase(lru_.back().first);
      lru_.pop_back();
      ++evictions_;
    }
  }

  // Drops every entry whose key starts with `prefix` (e.g. a deleted model's digest).
  void ErasePrefix(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end();) {
      if (it->first.compare(0, prefix.size(), prefix) == 0) {
        used_ -= it->second->SizeBytes();
        index_.erase(it->first);
        it = lru_.erase(it);
      } else {
        ++it;
      }
    }
  }

  int64_t used_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return used_;
  }
  int64_t budget_bytes() const { return budget_; }
  int64_t evictions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return evictions_;
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const ops::PreparedWeights>>;
  const int64_t budget_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;                                     // guarded by mu_
  std::map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  int64_t used_ = 0;                                         // guarded by mu_
  int64_t evictions_ = 0;                                    // guarded by mu_
};

}  // namespace datanode::node

#endif  // DATANODE_NODE_DAEMON_WEIGHT_CACHE_H_
