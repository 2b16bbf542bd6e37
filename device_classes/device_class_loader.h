// Copyright 2026 The datanode Authors.
//
// Loads and validates device class files (text-format datanode.v1.DeviceClass, see
// proto/datanode/v1/device_class.proto and docs/admission.md).
//
// Validation reports EVERY problem it finds, each as "<file>:<line>:<column>: <message>"
// (1-based, pointing at the offending field, or at the enclosing message when a
// required field is missing). A syntax error stops the text-format parser, so only
// the first one is reported; semantic errors are all reported. Thread-safe.
#ifndef DATANODE_DEVICE_CLASSES_DEVICE_CLASS_LOADER_H_
#define DATANODE_DEVICE_CLASSES_DEVICE_CLASS_LOADER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "datanode/v1/device_class.pb.h"

namespace datanode::device_classes {

struct LoadedClass {
  v1::DeviceClass device_class;
  std::string origin;      // file path (or the name given to ParseClassText)
  std::string digest_hex;  // SHA-256 of the file's bytes; reports pin it
};

// Parses and validates `text`. INVALID_ARGUMENT whose message lists every error, one
// per line, each prefixed with `origin:line:column:`.
absl::StatusOr<LoadedClass> ParseClassText(std::string_view text, std::string_view origin);

// Reads and parses a file. NOT_FOUND if it cannot be read.
absl::StatusOr<LoadedClass> LoadClassFile(const std::string& path);

// Directories searched for class names, in order: $DATANODE_CLASS_DIR (if set),
// /etc/datanode/device_classes, then the source tree's device_classes/.
std::vector<std::string> DefaultClassDirs();

// A path (contains '/' or ends in ".textproto") is returned as is; a bare name
// ("mini_pc") is looked up as <dir>/<name>.textproto in `dirs`. NOT_FOUND otherwise.
absl::StatusOr<std::string> ResolveClassPath(std::string_view name_or_path,
                                             const std::vector<std::string>& dirs);

// The settings of profile "quick" or "full"; INVALID_ARGUMENT for other names.
absl::StatusOr<v1::ProfileSettings> ProfileSettingsFor(const v1::DeviceClass& device_class,
                                                       std::string_view profile);

}  // namespace datanode::device_classes

#endif  // DATANODE_DEVICE_CLASSES_DEVICE_CLASS_LOADER_H_
