// Copyright 2026 The datanode Authors.
#include "ops/vulkan/vulkan_device.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datanode/ops/status_macros.h"

namespace datanode::ops::vulkan {
namespace {

// Long enough for any single op the backend accepts on a slow device (lavapipe), short
// enough that a hung device turns into an error instead of a stuck daemon.
constexpr uint64_t kFenceTimeoutNs = uint64_t{600} * 1000 * 1000 * 1000;

// What the kernels need beyond Vulkan 1.0's guaranteed minimums.
constexpr uint32_t kMinWorkgroupInvocations = 256;
constexpr uint32_t kMinSharedMemoryBytes = 8 * 1024;

const char* DeviceTypeName(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "CPU";
    default:
      return "other";
  }
}

// Higher is preferred when no selector is given.
int TypeRank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return 1;
    default:
      return 0;
  }
}

VulkanDeviceInfo MakeInfo(int index, const VkPhysicalDeviceProperties& p) {
  VulkanDeviceInfo info;
  info.index = index;
  info.name = p.deviceName;
  info.type = DeviceTypeName(p.deviceType);
  info.vendor_id = p.vendorID;
  info.device_id = p.deviceID;
  info.api_version =
      absl::StrCat(VK_API_VERSION_MAJOR(p.apiVersion), ".", VK_API_VERSION_MINOR(p.apiVersion), ".",
                   VK_API_VERSION_PATCH(p.apiVersion));
  info.driver_version = p.driverVersion;
  return info;
}

// The first queue family with compute support, or -1.
int ComputeQueueFamily(VkPhysicalDevice physical) {
  uint32_t count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, nullptr);
  std::vector<VkQueueFamilyProperties> families(count);
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, families.data());
  for (uint32_t i = 0; i < count; ++i) {
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) return static_cast<int>(i);
  }
  return -1;
}

// Empty when the device can run every kernel, else the reason it cannot.
std::string Unsuitability(VkPhysicalDevice physical) {
  VkPhysicalDeviceProperties p;
  vkGetPhysicalDeviceProperties(physical, &p);
  if (p.apiVersion < VK_API_VERSION_1_1) return "needs Vulkan 1.1 (SPIR-V 1.3)";
  if (ComputeQueueFamily(physical) < 0) return "has no compute queue";
  const VkPhysicalDeviceLimits& l = p.limits;
  if (l.maxComputeWorkGroupInvocations < kMinWorkgroupInvocations ||
      l.maxComputeWorkGroupSize[0] < kMinWorkgroupInvocations ||
      l.maxComputeWorkGroupSize[1] < 16) {
    return absl::StrCat("supports only ", l.maxComputeWorkGroupInvocations,
                        " invocations per workgroup (the kernels need ", kMinWorkgroupInvocations,
                        ")");
  }
  if (l.maxComputeSharedMemorySize < kMinSharedMemoryBytes) {
    return absl::StrCat("has only ", l.maxComputeSharedMemorySize, " bytes of shared memory");
  }
  return "";
}

absl::StatusOr<VkInstance> CreateInstance() {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "datanode";
  app.pEngineName = "datanode-ops";
  app.apiVersion = VK_API_VERSION_1_1;
  VkInstanceCreateInfo create{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  create.pApplicationInfo = &app;
  // Portability drivers (MoltenVK) are only enumerated when asked for.
  uint32_t ext_count = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &ext_count, nullptr);
  std::vector<VkExtensionProperties> exts(ext_count);
  vkEnumerateInstanceExtensionProperties(nullptr, &ext_count, exts.data());
  std::vector<const char*> enabled;
  for (const VkExtensionProperties& e : exts) {
    if (std::strcmp(e.extensionName, "VK_KHR_portability_enumeration") == 0) {
      enabled.push_back("VK_KHR_portability_enumeration");
      create.flags |= 0x00000001;  // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
    }
  }
  create.enabledExtensionCount = static_cast<uint32_t>(enabled.size());
  create.ppEnabledExtensionNames = enabled.data();
  VkInstance instance = VK_NULL_HANDLE;
  const VkResult r = vkCreateInstance(&create, nullptr, &instance);
  if (r != VK_SUCCESS) {
    return absl::UnavailableError(absl::StrCat(
        "vulkan: no Vulkan loader/driver could be initialized (vkCreateInstance: ", r, ")"));
  }
  return instance;
}

std::vector<VkPhysicalDevice> PhysicalDevices(VkInstance instance) {
  uint32_t count = 0;
  vkEnumeratePhysicalDevices(instance, &count, nullptr);
  std::vector<VkPhysicalDevice> devices(count);
  if (count > 0) vkEnumeratePhysicalDevices(instance, &count, devices.data());
  devices.resize(count);
  return devices;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string DescribeAll(const std::vector<VulkanDeviceInfo>& infos) {
  std::vector<std::string> parts;
  for (const VulkanDeviceInfo& i : infos) {
    parts.push_back(absl::StrCat(i.index, ": ", i.name, " (", i.type, ")"));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, "; ");
}

}  // namespace

absl::Status VkError(VkResult result, const char* what) {
  if (result == VK_ERROR_OUT_OF_HOST_MEMORY || result == VK_ERROR_OUT_OF_DEVICE_MEMORY) {
    return absl::ResourceExhaustedError(
        absl::StrCat("vulkan: ", what, " ran out of memory (", static_cast<int>(result), ")"));
  }
  return absl::UnavailableError(
      absl::StrCat("vulkan: ", what, " failed (VkResult ", static_cast<int>(result), ")"));
}

absl::StatusOr<std::vector<VulkanDeviceInfo>> ListVulkanDevices() {
  ASSIGN_OR_RETURN(VkInstance instance, CreateInstance());
  std::vector<VulkanDeviceInfo> infos;
  const std::vector<VkPhysicalDevice> devices = PhysicalDevices(instance);
  for (size_t i = 0; i < devices.size(); ++i) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(devices[i], &p);
    infos.push_back(MakeInfo(static_cast<int>(i), p));
  }
  vkDestroyInstance(instance, nullptr);
  return infos;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    Reset();
    device_ = std::exchange(other.device_, VK_NULL_HANDLE);
    buffer_ = std::exchange(other.buffer_, VK_NULL_HANDLE);
    memory_ = std::exchange(other.memory_, VK_NULL_HANDLE);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, nullptr);
  }
  return *this;
}

void DeviceBuffer::Reset() {
  if (device_ == VK_NULL_HANDLE) return;
  if (buffer_ != VK_NULL_HANDLE) vkDestroyBuffer(device_, buffer_, nullptr);
  if (memory_ != VK_NULL_HANDLE) vkFreeMemory(device_, memory_, nullptr);  // unmaps too
  device_ = VK_NULL_HANDLE;
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  size_ = 0;
  mapped_ = nullptr;
}

absl::StatusOr<std::unique_ptr<VulkanDevice>> VulkanDevice::Create(const std::string& selector) {
  std::unique_ptr<VulkanDevice> dev(new VulkanDevice());
  ASSIGN_OR_RETURN(dev->instance_, CreateInstance());
  const std::vector<VkPhysicalDevice> devices = PhysicalDevices(dev->instance_);
  std::vector<VulkanDeviceInfo> infos;
  std::vector<VkPhysicalDeviceType> types;
  for (size_t i = 0; i < devices.size(); ++i) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(devices[i], &p);
    infos.push_back(MakeInfo(static_cast<int>(i), p));
    types.push_back(p.deviceType);
  }
  if (devices.empty()) {
    return absl::UnavailableError(
        "vulkan: the Vulkan loader reports no physical device (no GPU driver or ICD "
        "installed; for CPU emulation install Mesa lavapipe)");
  }

  int chosen = -1;
  if (selector.empty()) {
    std::vector<std::string> reasons;
    for (size_t i = 0; i < devices.size(); ++i) {
      const std::string why = Unsuitability(devices[i]);
      if (!why.empty()) {
        reasons.push_back(absl::StrCat(infos[i].name, " ", why));
        continue;
      }
      if (chosen < 0 || TypeRank(types[i]) > TypeRank(types[chosen])) {
        chosen = static_cast<int>(i);
      }
    }
    if (chosen < 0) {
      return absl::UnavailableError(
          absl::StrCat("vulkan: no suitable device: ", absl::StrJoin(reasons, "; ")));
    }
  } else {
    const bool numeric =
        std::all_of(selector.begin(), selector.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric && selector.size() <= 6) {
      const int index = std::stoi(selector);
      if (index < static_cast<int>(devices.size())) chosen = index;
    } else {
      const std::string needle = Lower(selector);
      for (size_t i = 0; i < devices.size() && chosen < 0; ++i) {
        if (Lower(infos[i].name).find(needle) != std::string::npos) chosen = static_cast<int>(i);
      }
    }
    if (chosen < 0) {
      return absl::NotFoundError(absl::StrCat("vulkan: no device matches \"", selector,
                                              "\" (devices: ", DescribeAll(infos), ")"));
    }
    const std::string why = Unsuitability(devices[chosen]);
    if (!why.empty()) {
      return absl::UnavailableError(
          absl::StrCat("vulkan: device ", chosen, " (", infos[chosen].name, ") ", why));
    }
  }
  dev->info_ = infos[chosen];
  RETURN_IF_ERROR(
      dev->Init(devices[chosen], static_cast<uint32_t>(ComputeQueueFamily(devices[chosen]))));
  return dev;
}

absl::Status VulkanDevice::Init(VkPhysicalDevice physical, uint32_t queue_family) {
  physical_ = physical;
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(physical, &props);
  limits_ = props.limits;
  vkGetPhysicalDeviceMemoryProperties(physical, &memory_);

  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = queue_family;
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;
  VkDeviceCreateInfo device_info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  device_info.queueCreateInfoCount = 1;
  device_info.pQueueCreateInfos = &queue_info;
  if (VkResult r = vkCreateDevice(physical, &device_info, nullptr, &device_); r != VK_SUCCESS) {
    device_ = VK_NULL_HANDLE;
    return VkError(r, "vkCreateDevice");
  }
  vkGetDeviceQueue(device_, queue_family, 0, &queue_);

  VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool_info.queueFamilyIndex = queue_family;
  if (VkResult r = vkCreateCommandPool(device_, &pool_info, nullptr, &command_pool_);
      r != VK_SUCCESS) {
    return VkError(r, "vkCreateCommandPool");
  }
  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = command_pool_;
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = 1;
  if (VkResult r = vkAllocateCommandBuffers(device_, &alloc, &command_buffer_); r != VK_SUCCESS) {
    return VkError(r, "vkAllocateCommandBuffers");
  }
  VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  if (VkResult r = vkCreateFence(device_, &fence_info, nullptr, &fence_); r != VK_SUCCESS) {
    return VkError(r, "vkCreateFence");
  }
  return absl::OkStatus();
}

VulkanDevice::~VulkanDevice() {
  if (device_ != VK_NULL_HANDLE) {
    vkDeviceWaitIdle(device_);
    if (fence_ != VK_NULL_HANDLE) vkDestroyFence(device_, fence_, nullptr);
    if (command_pool_ != VK_NULL_HANDLE) vkDestroyCommandPool(device_, command_pool_, nullptr);
    vkDestroyDevice(device_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

absl::StatusOr<DeviceBuffer> VulkanDevice::CreateBuffer(uint64_t size, MemoryUse use) {
  DeviceBuffer out;
  out.device_ = device_;
  out.size_ = size;
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = size;
  info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  if (use == MemoryUse::kDevice) info.usage |= VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  if (VkResult r = vkCreateBuffer(device_, &info, nullptr, &out.buffer_); r != VK_SUCCESS) {
    out.buffer_ = VK_NULL_HANDLE;
    return VkError(r, "vkCreateBuffer");
  }
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, out.buffer_, &req);

  // Preferred property sets, best first; the first type allowed by `req` wins.
  std::vector<VkMemoryPropertyFlags> wanted;
  constexpr VkMemoryPropertyFlags kHost =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  switch (use) {
    case MemoryUse::kDevice:
      wanted = {VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0};
      break;
    case MemoryUse::kUpload:
      wanted = {kHost};
      break;
    case MemoryUse::kReadback:
      wanted = {kHost | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, kHost};
      break;
  }
  int type_index = -1;
  for (VkMemoryPropertyFlags flags : wanted) {
    for (uint32_t i = 0; i < memory_.memoryTypeCount && type_index < 0; ++i) {
      if ((req.memoryTypeBits & (1u << i)) &&
          (memory_.memoryTypes[i].propertyFlags & flags) == flags) {
        type_index = static_cast<int>(i);
      }
    }
    if (type_index >= 0) break;
  }
  if (type_index < 0) {
    return absl::UnavailableError("vulkan: no memory type fits a buffer of this use");
  }
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = static_cast<uint32_t>(type_index);
  if (VkResult r = vkAllocateMemory(device_, &alloc, nullptr, &out.memory_); r != VK_SUCCESS) {
    out.memory_ = VK_NULL_HANDLE;
    return VkError(r, "vkAllocateMemory");
  }
  if (VkResult r = vkBindBufferMemory(device_, out.buffer_, out.memory_, 0); r != VK_SUCCESS) {
    return VkError(r, "vkBindBufferMemory");
  }
  if (use != MemoryUse::kDevice) {
    void* p = nullptr;
    if (VkResult r = vkMapMemory(device_, out.memory_, 0, VK_WHOLE_SIZE, 0, &p); r != VK_SUCCESS) {
      return VkError(r, "vkMapMemory");
    }
    out.mapped_ = static_cast<uint8_t*>(p);
  }
  return out;
}

absl::Status VulkanDevice::SubmitAndWait(const std::function<void(VkCommandBuffer)>& record) {
  if (VkResult r = vkResetCommandBuffer(command_buffer_, 0); r != VK_SUCCESS) {
    return VkError(r, "vkResetCommandBuffer");
  }
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  if (VkResult r = vkBeginCommandBuffer(command_buffer_, &begin); r != VK_SUCCESS) {
    return VkError(r, "vkBeginCommandBuffer");
  }
  record(command_buffer_);
  if (VkResult r = vkEndCommandBuffer(command_buffer_); r != VK_SUCCESS) {
    return VkError(r, "vkEndCommandBuffer");
  }
  if (VkResult r = vkResetFences(device_, 1, &fence_); r != VK_SUCCESS) {
    return VkError(r, "vkResetFences");
  }
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &command_buffer_;
  if (VkResult r = vkQueueSubmit(queue_, 1, &submit, fence_); r != VK_SUCCESS) {
    return VkError(r, "vkQueueSubmit");
  }
  const VkResult r = vkWaitForFences(device_, 1, &fence_, VK_TRUE, kFenceTimeoutNs);
  if (r == VK_TIMEOUT) {
    // The queue may still reference the buffers: wait it out before they are reused.
    vkQueueWaitIdle(queue_);
    return absl::UnavailableError("vulkan: device work did not finish within 600 s");
  }
  if (r != VK_SUCCESS) return VkError(r, "vkWaitForFences");
  return absl::OkStatus();
}

}  // namespace datanode::ops::vulkan
