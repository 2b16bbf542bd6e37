// Copyright 2026 The datanode Authors.
//
// dnctl's Store commands: blobs (put, get, stat, list, delete) and models (import,
// models, model, delete-model).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/v1/store.grpc.pb.h"
#include "node/cli/dnctl_command.h"

ABSL_FLAG(std::string, expect, "", "put: the digest the blob must have");

namespace datanode::node::dnctl {
namespace {

std::string ShapeOf(const v1::TensorEntry& t) {
  return absl::StrCat("[", absl::StrJoin(t.shape(), ","), "]");
}

int Put(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  const std::string& path = in.args[0];
  std::ifstream f(path, std::ios::binary);
  if (!f) return Fail("cannot read " + path);
  grpc::ClientContext ctx;
  v1::BlobInfo info;
  auto writer = store.PutBlob(&ctx, &info);
  v1::PutBlobRequest req;
  req.set_expected_digest(absl::GetFlag(FLAGS_expect));
  std::vector<char> buf(1 << 20);
  bool ok = true;
  while (ok) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    req.set_data(buf.data(), static_cast<size_t>(f.gcount()));
    req.set_last(!f || f.peek() == std::char_traits<char>::eof());
    ok = writer->Write(req) && !req.last();
    req.clear_expected_digest();
  }
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  if (!st.ok()) return FailRpc(st);
  if (in.json) return PrintJson(info), 0;
  std::printf("%s %lld\n", info.digest().c_str(), (long long)info.size());
  return 0;
}

int Get(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  const std::string &digest = in.args[0], &out = in.args[1];
  grpc::ClientContext ctx;
  v1::GetBlobRequest req;
  req.set_digest(digest);
  auto reader = store.GetBlob(&ctx, req);
  const std::string tmp = out + ".partial";
  std::ofstream f(tmp, std::ios::binary);
  if (!f) return Fail("cannot write " + tmp);
  v1::GetBlobResponse piece;
  int64_t total = 0;
  while (reader->Read(&piece)) {
    f.write(piece.data().data(), static_cast<std::streamsize>(piece.data().size()));
    total += static_cast<int64_t>(piece.data().size());
  }
  f.close();
  grpc::Status st = reader->Finish();
  std::error_code ec;
  if (!st.ok() || !f) {
    std::filesystem::remove(tmp, ec);  // never leave unverified bytes behind
    return st.ok() ? Fail("cannot write " + tmp) : FailRpc(st);
  }
  std::filesystem::rename(tmp, out, ec);
  if (ec) return Fail(absl::StrCat("cannot write ", out, ": ", ec.message()));
  std::printf("%s %lld bytes -> %s\n", digest.c_str(), (long long)total, out.c_str());
  return 0;
}

int Stat(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::StatBlobRequest req;
  req.set_digest(in.args[0]);
  v1::BlobInfo info;
  grpc::Status st = store.StatBlob(&ctx, req, &info);
  if (!st.ok()) return FailRpc(st);
  if (in.json) return PrintJson(info), 0;
  std::printf("%s %lld bytes, %d chunks\n", info.digest().c_str(), (long long)info.size(),
              info.chunks_size());
  return 0;
}

int List(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::ListBlobsResponse r;
  grpc::Status st = store.ListBlobs(&ctx, {}, &r);
  if (!st.ok()) return FailRpc(st);
  if (in.json) return PrintJson(r), 0;
  for (const auto& b : r.blobs()) std::printf("%s %lld\n", b.digest().c_str(), (long long)b.size());
  return 0;
}

int Delete(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::DeleteBlobRequest req;
  req.set_digest(in.args[0]);
  v1::DeleteBlobResponse r;
  grpc::Status st = store.DeleteBlob(&ctx, req, &r);
  return st.ok() ? (std::printf("deleted %s\n", in.args[0].c_str()), 0) : FailRpc(st);
}

int Import(const Invocation& in) {
  if (in.args[0].empty()) return Usage("import: PATH must not be empty");
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::ImportModelRequest req;
  req.set_path(Absolute(in.args[0]));
  // Progress (bytes stored and MB/s) only to a terminal; the result is the last message.
  const bool show = !in.json && ::isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  auto reader = store.ImportModelStream(&ctx, req);
  v1::ImportModelUpdate update;
  v1::ModelInfo info;
  while (reader->Read(&update)) {
    if (update.has_model()) info = update.model();
    if (!show) continue;
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\rimporting: %.1f / %.1f MB, %.0f MB/s   ",
                 static_cast<double>(update.bytes_done()) / 1e6,
                 static_cast<double>(update.bytes_total()) / 1e6,
                 s > 0 ? static_cast<double>(update.bytes_done()) / 1e6 / s : 0.0);
  }
  if (show) std::fprintf(stderr, "\n");
  grpc::Status st = reader->Finish();
  if (!st.ok()) return FailRpc(st);
  if (in.json) return PrintJson(info), 0;
  std::printf("model %s (%s, %d tensors)\n", info.digest().c_str(),
              v1::ModelFormat_Name(info.format()).c_str(), info.tensors_size());
  for (const auto& t : info.tensors()) {
    std::printf("  %-24s %-6s %s\n", t.name().c_str(),
                v1::TensorDtype_Name(t.dtype()).substr(13).c_str(), ShapeOf(t).c_str());
  }
  return 0;
}

int Models(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::ListModelsResponse r;
  grpc::Status st = store.ListModels(&ctx, {}, &r);
  if (!st.ok()) return FailRpc(st);
  if (in.json) return PrintJson(r), 0;
  for (const auto& m : r.models()) {
    std::printf("%s %s %lld\n", m.digest().c_str(), v1::ModelFormat_Name(m.format()).c_str(),
                (long long)m.source_size());
  }
  return 0;
}

int Model(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::GetModelRequest req;
  req.set_digest(in.args[0]);
  v1::ModelInfo info;
  grpc::Status st = store.GetModel(&ctx, req, &info);
  if (!st.ok()) return FailRpc(st);
  return PrintJson(info), 0;
}

int DeleteModel(const Invocation& in) {
  v1::Store::Stub store(in.channel);
  grpc::ClientContext ctx;
  v1::DeleteModelRequest req;
  req.set_digest(in.args[0]);
  v1::DeleteModelResponse r;
  grpc::Status st = store.DeleteModel(&ctx, req, &r);
  return st.ok() ? (std::printf("deleted model %s\n", in.args[0].c_str()), 0) : FailRpc(st);
}

}  // namespace

std::vector<Command> StoreCommands() {
  return {
      {"put", "FILE", 1, "upload a blob (streamed), print its digest", {"expect"}, true, Put},
      {"get", "DIGEST OUT", 2, "download a blob (verified) to OUT", {}, true, Get},
      {"stat", "DIGEST", 1, "a blob's size and chunks", {}, true, Stat},
      {"list", "", 0, "list blobs", {}, true, List},
      {"delete", "DIGEST", 1, "delete a blob", {}, true, Delete},
      {"import",
       "PATH",
       1,
       "import a safetensors / GGUF file on the node's disk",
       {},
       true,
       Import},
      {"models", "", 0, "list models", {}, true, Models},
      {"model", "DIGEST", 1, "a model's manifest", {}, true, Model},
      {"delete-model", "DIGEST", 1, "delete a model", {}, true, DeleteModel},
  };
}

}  // namespace datanode::node::dnctl
