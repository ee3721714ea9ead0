#include "src/shim/vm_options.h"

#include <cctype>
#include <sstream>

#include "src/containerd/api/runhcs_options.pb.h"
#include "src/containerd/api/runtimeoptions.pb.h"
#include "src/hns/hcn.h"
#include "src/runtime/read_file.h"

namespace hcsshim::shim {

namespace {

using RunhcsOptions = containerd::runhcs::v1::Options;

// squash: a key compared the way TOML decoding into hcsshim's Go struct
// matches it - case and underscores ignored (BootFilesRootPath = boot_files_root_path).
std::string squash(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// tomlValue: a basic string, an integer or a boolean; nullopt otherwise.
struct TomlValue {
  enum { kString, kInt, kBool } kind;
  std::string text;
  int64_t number = 0;
};
std::optional<TomlValue> tomlValue(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    TomlValue out{TomlValue::kString, "", 0};
    for (size_t i = 1; i + 1 < v.size(); ++i) {
      char c = v[i];
      if (c == '\\') {
        if (i + 2 >= v.size()) return std::nullopt;
        char e = v[++i];
        if (e == 'n') c = '\n'; else if (e == 't') c = '\t'; else if (e == '"' || e == '\\') c = e; else return std::nullopt;
      } else if (c == '"') {
        return std::nullopt;
      }
      out.text += c;
    }
    return out;
  }
  if (v == "true" || v == "false") return TomlValue{TomlValue::kBool, "", v == "true"};
  size_t digits = v.size() > 0 && (v[0] == '-' || v[0] == '+') ? 1 : 0;
  if (v.size() == digits || v.size() > digits + 9 || v.find_first_not_of("0123456789", digits) != std::string_view::npos) {
    return std::nullopt;
  }
  return TomlValue{TomlValue::kInt, "", std::stoll(std::string(v))};
}

// setOption: one `key = value` of a runhcs options file into o.
Status setOption(RunhcsOptions& o, const std::string& key, const TomlValue& v) {
  const std::string k = squash(key);
  auto want = [&](decltype(v.kind) kind, const char* what) -> Status {
    if (v.kind == kind) return OkStatus();
    return InvalidArgumentError(key + ": want " + what);
  };
  auto integer = [&](auto setter) -> Status {
    HCS_RETURN_IF_ERROR(want(TomlValue::kInt, "an integer"));
    if (v.number < INT32_MIN || v.number > INT32_MAX) return InvalidArgumentError(key + ": out of range");
    setter(static_cast<int32_t>(v.number));
    return OkStatus();
  };
  auto boolean = [&](auto setter) -> Status {
    HCS_RETURN_IF_ERROR(want(TomlValue::kBool, "true or false"));
    setter(v.number != 0);
    return OkStatus();
  };
  auto text = [&](auto setter) -> Status {
    HCS_RETURN_IF_ERROR(want(TomlValue::kString, "a string"));
    setter(v.text);
    return OkStatus();
  };
  if (k == "debug") return boolean([&](bool b) { o.set_debug(b); });
  if (k == "debugtype") {
    return integer([&](int32_t n) { o.set_debug_type(static_cast<RunhcsOptions::DebugType>(n)); });
  }
  if (k == "registryroot") return text([&](const std::string& t) { o.set_registry_root(t); });
  if (k == "sandboximage") return text([&](const std::string& t) { o.set_sandbox_image(t); });
  if (k == "sandboxplatform") return text([&](const std::string& t) { o.set_sandbox_platform(t); });
  if (k == "sandboxisolation") {
    return integer([&](int32_t n) { o.set_sandbox_isolation(static_cast<RunhcsOptions::SandboxIsolation>(n)); });
  }
  if (k == "bootfilesrootpath") return text([&](const std::string& t) { o.set_boot_files_root_path(t); });
  if (k == "vmprocessorcount") return integer([&](int32_t n) { o.set_vm_processor_count(n); });
  if (k == "vmmemorysizeinmb") return integer([&](int32_t n) { o.set_vm_memory_size_in_mb(n); });
  if (k == "gpuvhdpath") return text([&](const std::string& t) { o.set_gpuvhdpath(t); });
  if (k == "scalecpulimitstosandbox") return boolean([&](bool b) { o.set_scale_cpu_limits_to_sandbox(b); });
  if (k == "defaultcontainerscratchsizeingb") {
    return integer([&](int32_t n) { o.set_default_container_scratch_size_in_gb(n); });
  }
  if (k == "defaultvmscratchsizeingb") return integer([&](int32_t n) { o.set_default_vm_scratch_size_in_gb(n); });
  if (k == "sharescratch") return boolean([&](bool b) { o.set_share_scratch(b); });
  if (k == "ncproxyaddr") return text([&](const std::string& t) { o.set_ncproxyaddr(t); });
  if (k == "loglevel") return text([&](const std::string& t) { o.set_log_level(t); });
  if (k == "ioretrytimeoutinsec") return integer([&](int32_t n) { o.set_io_retry_timeout_in_sec(n); });
  if (k == "noinherithosttimezone") return boolean([&](bool b) { o.set_no_inherit_host_timezone(b); });
  if (k == "scrublogs") return boolean([&](bool b) { o.set_scrub_logs(b); });
  if (k == "defaultcontainerannotations") {
    return UnimplementedError(key + ": a map is not supported in a runtime options file; use pod or container annotations");
  }
  return InvalidArgumentError(key + ": not a containerd.runhcs.v1.Options field");
}

}  // namespace

StatusOr<RunhcsOptions> parseRunhcsOptionsFile(std::string_view text, const std::string& path) {
  RunhcsOptions o;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    auto where = [&](const std::string& what) {
      return InvalidArgumentError("runtime options file " + path + " line " + std::to_string(n) + ": " + what);
    };
    // A comment starts at a # outside a string.
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) quoted = !quoted;
      if (line[i] == '#' && !quoted) {
        line.resize(i);
        break;
      }
    }
    auto trim = [](std::string_view t) {
      size_t b = t.find_first_not_of(" \t\r"), e = t.find_last_not_of(" \t\r");
      return b == std::string_view::npos ? std::string_view() : t.substr(b, e - b + 1);
    };
    std::string_view l = trim(line);
    if (l.empty()) continue;
    if (l.front() == '[') return where("tables are not supported: write the Options fields as key = value");
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) return where("want key = value");
    std::string key(trim(l.substr(0, eq)));
    if (key.empty()) return where("a key is missing");
    auto value = tomlValue(trim(l.substr(eq + 1)));
    if (!value) return where(key + ": want a \"string\", an integer or true/false");
    Status st = setOption(o, key, *value);
    if (!st.ok()) {
      return Status::withCode(st.code(), st.hresult(), "", "",
                              "runtime options file " + path + " line " + std::to_string(n) + ": " + st.message());
    }
  }
  return o;
}

std::string vmIdFor(const std::string& taskId) { return "runhcs-" + taskId; }

StatusOr<uvm::LcowOptions> vmOptions(const std::string& taskId, const hcsshim::protobuf::Any& any, const Json& spec,
                                     const std::string& defaultBootFiles) {
  uvm::LcowOptions o;
  o.id = vmIdFor(taskId);
  o.bootFilesPath = defaultBootFiles;
  o.memoryMB = 512;
  o.processors = 1;
  if (!any.type_url().empty()) {
    RunhcsOptions opts;
    if (any.type_url().find("runtimeoptions.v1.Options") != std::string::npos) {
      // containerd without the runhcs options type compiled in (Debian's):
      // the handler's options table names a file holding them.
      runtimeoptions::v1::Options generic;
      if (!generic.ParseFromString(any.value())) {
        return InvalidArgumentError("runtime options: runtimeoptions.v1.Options does not decode");
      }
      if (!generic.type_url().empty() && generic.type_url().find("containerd.runhcs.v1.Options") == std::string::npos) {
        return InvalidArgumentError("runtime options: TypeUrl " + generic.type_url() +
                                    " is not containerd.runhcs.v1.Options");
      }
      if (generic.config_path().empty()) {
        return InvalidArgumentError("runtime options: runtimeoptions.v1.Options without a ConfigPath");
      }
      auto text = runtime::readFile(generic.config_path(), 1 << 20);
      if (!text) return InvalidArgumentError("runtime options: cannot read ConfigPath " + generic.config_path());
      auto parsed = parseRunhcsOptionsFile(*text, generic.config_path());
      if (!parsed.ok()) return parsed.status();
      opts = std::move(*parsed);
    } else if (any.type_url().find("containerd.runhcs.v1.Options") == std::string::npos) {
      return InvalidArgumentError("runtime options: want containerd.runhcs.v1.Options (or runtimeoptions.v1.Options naming a file of them), got " +
                                  any.type_url());
    } else if (!opts.ParseFromString(any.value())) {
      return InvalidArgumentError("runtime options: containerd.runhcs.v1.Options does not decode");
    }
    if (opts.vm_memory_size_in_mb() < 0 || opts.vm_processor_count() < 0) {
      return InvalidArgumentError("runtime options: negative VM memory or processor count");
    }
    if (opts.vm_memory_size_in_mb() > 0) o.memoryMB = static_cast<uint64_t>(opts.vm_memory_size_in_mb());
    if (opts.vm_processor_count() > 0) o.processors = static_cast<uint32_t>(opts.vm_processor_count());
    if (!opts.boot_files_root_path().empty()) o.bootFilesPath = opts.boot_files_root_path();
  }
  // Annotations win over options (as in hcsshim).
  const Json annotations = spec.is_object() ? spec.value("annotations", Json::object()) : Json::object();
  if (!annotations.is_object()) return InvalidArgumentError("spec annotations: want an object");
  auto number = [&](const char* key, uint64_t& out) -> Status {
    if (!annotations.contains(key)) return OkStatus();
    if (!annotations[key].is_string()) return InvalidArgumentError(std::string("annotation ") + key + ": want a string");
    const std::string v = annotations[key].get<std::string>();
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9) {
      return InvalidArgumentError(std::string("annotation ") + key + ": \"" + v + "\" is not a number");
    }
    out = std::stoull(v);
    return OkStatus();
  };
  uint64_t mem = o.memoryMB, cpus = o.processors;
  HCS_RETURN_IF_ERROR(number("io.microsoft.virtualmachine.computetopology.memory.sizeinmb", mem));
  HCS_RETURN_IF_ERROR(number("io.microsoft.virtualmachine.computetopology.processor.count", cpus));
  o.memoryMB = mem;
  o.processors = static_cast<uint32_t>(cpus);
  const char* kBoot = "io.microsoft.virtualmachine.lcow.bootfilesrootpath";
  if (annotations.contains(kBoot)) {
    if (!annotations[kBoot].is_string() || annotations[kBoot].get<std::string>().empty()) {
      return InvalidArgumentError(std::string("annotation ") + kBoot + ": want a directory");
    }
    o.bootFilesPath = annotations[kBoot].get<std::string>();
  }
  if (o.bootFilesPath.empty()) {
    return FailedPreconditionError("no boot files: set the runtime option BootFilesRootPath or the annotation " +
                                   std::string(kBoot));
  }
  return o;
}

std::string sandboxOf(const Json& spec) {
  if (!spec.is_object() || !spec.contains("annotations") || !spec["annotations"].is_object()) return "";
  const Json& a = spec["annotations"];
  if (a.value("io.kubernetes.cri.container-type", Json("")) != Json("container")) return "";
  if (!a.contains("io.kubernetes.cri.sandbox-id") || !a["io.kubernetes.cri.sandbox-id"].is_string()) return "";
  return a["io.kubernetes.cri.sandbox-id"].get<std::string>();
}

namespace {

// inGuestProcess: /proc/<pid>/ns/<name> - the namespace of a process of the
// pod, in the guest (the pids the shim reports are the guest's).
bool inGuestProcess(const std::string& path) {
  constexpr std::string_view kProc = "/proc/";
  if (!path.starts_with(kProc)) return false;
  size_t digits = path.find_first_not_of("0123456789", kProc.size());
  return digits != std::string::npos && digits > kProc.size() && path.compare(digits, 4, "/ns/") == 0 &&
         path.size() > digits + 4 && path.find('/', digits + 4) == std::string::npos &&
         path.find("..") == std::string::npos;
}

// netnsPathOf: the path of the spec's network namespace entry ("" if none).
StatusOr<std::string> netnsPathOf(const Json& spec) {
  if (!spec.contains("linux") || !spec["linux"].is_object() || !spec["linux"].contains("namespaces")) {
    return std::string();
  }
  const Json& list = spec["linux"]["namespaces"];
  if (!list.is_array()) return InvalidArgumentError("spec linux.namespaces: want an array");
  for (const Json& n : list) {
    if (!n.is_object() || !n.contains("type") || !n["type"].is_string()) {
      return InvalidArgumentError("spec linux.namespaces: each entry wants a string type");
    }
    if (n["type"] != "network" || !n.contains("path")) continue;
    if (!n["path"].is_string()) return InvalidArgumentError("spec linux.namespaces: network path: want a string");
    return n["path"].get<std::string>();
  }
  return std::string();
}

}  // namespace

StatusOr<std::string> networkNamespaceOf(const Json& spec) {
  if (!spec.is_object()) return std::string();
  std::string windows;
  if (spec.contains("windows") && spec["windows"].is_object()) {
    const Json& w = spec["windows"];
    if (w.contains("network") && w["network"].is_object() && w["network"].contains("networkNamespace")) {
      const Json& ns = w["network"]["networkNamespace"];
      if (!ns.is_string() || ns.get<std::string>().empty()) {
        return InvalidArgumentError("spec windows.network.networkNamespace: want an HCN namespace id");
      }
      windows = ns.get<std::string>();
    }
  }
  HCS_ASSIGN_OR_RETURN(std::string netns, netnsPathOf(spec));
  // A container of a pod joins its sandbox's network by /proc/<pid>/ns/net:
  // that is the guest's, the HCN namespace is the sandbox's already.
  if (netns.empty() || inGuestProcess(netns)) return windows;
  std::string translated = hns::namespaceForNetns(netns);
  if (!windows.empty() && windows != translated) {
    return InvalidArgumentError("spec: network namespace " + netns + " (HCN namespace " + translated +
                                ") and windows.network.networkNamespace " + windows + " disagree");
  }
  return translated;
}

Status guestNamespaces(Json& spec) {
  if (!spec.is_object() || !spec.contains("linux") || !spec["linux"].is_object() ||
      !spec["linux"].contains("namespaces")) {
    return OkStatus();
  }
  Json& list = spec["linux"]["namespaces"];
  if (!list.is_array()) return InvalidArgumentError("spec linux.namespaces: want an array");
  for (Json& n : list) {
    if (!n.is_object() || !n.contains("type") || !n["type"].is_string()) {
      return InvalidArgumentError("spec linux.namespaces: each entry wants a string type");
    }
    if (!n.contains("path")) continue;
    if (!n["path"].is_string()) return InvalidArgumentError("spec linux.namespaces: path: want a string");
    std::string type = n["type"].get<std::string>(), path = n["path"].get<std::string>();
    if (inGuestProcess(path)) continue;
    if (type == "network") {
      n.erase("path");  // a host netns: the guest puts the HCN namespace's own here
      continue;
    }
    {
      return InvalidArgumentError("spec linux.namespaces: the " + type + " namespace " + path +
                                  " is a host path; a utility VM can only join /proc/<pid>/ns/ namespaces of the pod's own processes");
    }
  }
  return OkStatus();
}

}  // namespace hcsshim::shim
