// service_internal.h: what the fake HCS service's files share - HCS-style
// errors, /proc readings, resource path parsing and the stdio stream a
// client and the service both hold. Internal to hcs_fake/service*.cc: the
// system lifecycle is service.cc, compute system documents and Modify are
// service_modify.cc, processes and properties service_processes.cc.
#pragma once

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "hcs_fake/service.h"
#include "hcs_fake/records.h"
#include "src/common/guid.h"
#include "src/common/log.h"

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace hr = hresult;

// hcsError: a failure as HCS reports it - HRESULT, message and ErrorEvents.
inline Status hcsError(HResult code, std::string op, std::string id, std::string message) {
  return schema::withErrorEvent(Status::fromHResult(code, std::move(op), std::move(id), std::move(message)));
}

// invalidJson turns a schema decode error into HCS_E_INVALID_JSON keeping its message.
inline Status invalidJson(const Status& decodeError, std::string op, std::string id) {
  return hcsError(hr::kHcsInvalidJson, std::move(op), std::move(id), decodeError.message());
}

inline bool fileExists(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::exists(path, ec);
}

// SharedStream lets the service and a client hold the same stdio stream (and,
// for a console, lets stdin and stdout be two handles on one terminal). The
// underlying stream closes when the last client handle closes; the service
// can always close it directly (ModifyProcess CloseHandle).
class SharedStream final : public runtime::Stream {
 public:
  struct End {
    std::shared_ptr<runtime::Stream> stream;
    int handles = 0;
  };
  explicit SharedStream(std::shared_ptr<End> e) : e_(std::move(e)) { ++e_->handles; }
  ~SharedStream() override { close(); }
  runtime::Task<StatusOr<size_t>> read(std::span<char> buf) override { return e_->stream->read(buf); }
  runtime::Task<Status> write(std::string_view data) override { return e_->stream->write(data); }
  Status shutdownWrite() override { return e_->stream->shutdownWrite(); }
  void close() override {
    if (closed_) return;
    closed_ = true;
    if (--e_->handles == 0) e_->stream->close();
  }
  StatusOr<runtime::PeerCredentials> peerCredentials() const override { return e_->stream->peerCredentials(); }
  std::string describe() const override { return e_->stream->describe(); }

 private:
  std::shared_ptr<End> e_;
  bool closed_ = false;
};

// ProcStat: CPU times (100 ns units) and resident memory of a live process.
struct ProcStat {
  uint64_t user100ns = 0;
  uint64_t kernel100ns = 0;
  uint64_t rssBytes = 0;
  bool ok = false;
};

inline ProcStat readProcStat(int pid) {
  ProcStat st;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return st;
  auto rparen = line.rfind(')');
  if (rparen == std::string::npos) return st;
  std::istringstream rest(line.substr(rparen + 2));
  std::vector<std::string> fields;
  std::string tok;
  while (rest >> tok) fields.push_back(tok);
  // After "pid (comm) ": state is field 3; utime 14, stime 15, rss 24 (1-based in proc(5)).
  if (fields.size() < 22) return st;
  const uint64_t tick100ns = 10000000 / 100;  // USER_HZ is 100 on Linux
  st.user100ns = std::stoull(fields[11]) * tick100ns;
  st.kernel100ns = std::stoull(fields[12]) * tick100ns;
  st.rssBytes = std::stoull(fields[21]) * 4096;
  st.ok = true;
  return st;
}

inline const std::set<std::string>& knownPropertyTypes() {
  static const std::set<std::string> k = {"Memory", "GuestMemory", "Statistics", "ProcessList",
                                          "TerminateOnLastHandleClosed", "SharedMemoryRegion", "GuestConnection",
                                          "ICHeartbeatStatus", "ProcessorTopology", "CpuGroup", "SystemGUID",
                                          schema::kConfigurationPropertyType};
  return k;
}

inline std::vector<std::string> splitPath(const std::string& p) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : p) {
    if (c == '/') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  parts.push_back(cur);
  return parts;
}

inline std::optional<uint32_t> parseIndex(const std::string& s, uint32_t max) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v >= max) return std::nullopt;
  return v;
}


// toOpenHandle: a notification's delivery to handle `key` of a system or
// process record, if that handle is still open when it runs (HCS makes no
// callback after a handle is closed).
template <typename Record>
std::function<void()> toOpenHandle(const std::shared_ptr<Record>& record, uint64_t key, hcs::Event e) {
  return [w = std::weak_ptr<Record>(record), key, e = std::move(e)] {
    auto r = w.lock();
    if (!r) return;
    auto it = r->callbacks.find(key);
    if (it != r->callbacks.end() && it->second) it->second(e);
  };
}

}  // namespace hcsshim::hcs_fake
