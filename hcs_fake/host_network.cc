#include "hcs_fake/host_network.h"

#include <cctype>

namespace hcsshim::hcs_fake {

using runtime::Task;
namespace hr = hresult;

std::string hexId(const std::string& id) {
  std::string out;
  for (char c : id) {
    if (std::isxdigit(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (out.size() == 8) break;
  }
  return out;
}

std::string colonMac(std::string mac) {
  for (auto& c : mac) c = c == '-' ? ':' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return mac;
}

Task<Status> HostBridges::ip(std::vector<std::string> args) {
  runtime::ProcessSpec spec;
  spec.path = ipPath_;
  spec.args = {"ip"};
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  Status st = co_await runtime::runCommand(rt_.processes(), spec);
  if (!st.ok()) co_return Status::fromHResult(hr::kFail, "Modify", "", st.message());
  co_return OkStatus();
}

Task<Status> HostBridges::plug(std::string port, std::string bridge) {
  if (ports_[bridge]++ == 0) {
    std::vector<std::string> mk = {"link", "add", bridge, "type", "bridge"};
    Status st = co_await ip(mk);
    if (!st.ok() && st.message().find("File exists") == std::string::npos) {
      if (--ports_[bridge] <= 0) ports_.erase(bridge);
      co_return st;
    }
    std::vector<std::string> up = {"link", "set", "dev", bridge, "up"};
    (void)co_await ip(up);
  }
  std::vector<std::string> master = {"link", "set", "dev", port, "master", bridge};
  Status st = co_await ip(master);
  if (st.ok()) {
    std::vector<std::string> up = {"link", "set", "dev", port, "up"};
    st = co_await ip(up);
  }
  if (!st.ok() && --ports_[bridge] <= 0) {
    ports_.erase(bridge);
    std::vector<std::string> del = {"link", "del", bridge};
    (void)co_await ip(del);
  }
  co_return st;
}

Task<Status> HostBridges::unplug(std::string port, std::string bridge, bool deleteLink) {
  if (deleteLink) {
    std::vector<std::string> del = {"link", "del", port};
    Status st = co_await ip(del);  // a veth's other end goes with it
    if (!st.ok() && st.message().find("Cannot find device") == std::string::npos) co_return st;
  }
  if (--ports_[bridge] <= 0) {
    ports_.erase(bridge);
    std::vector<std::string> del = {"link", "del", bridge};
    (void)co_await ip(del);
  }
  co_return OkStatus();
}

void HostBridges::release(const std::string& port, const std::string& bridge, bool deleteLink) {
  auto detached = [&](std::vector<std::string> args) {
    runtime::ProcessSpec spec;
    spec.path = ipPath_;
    spec.args = {"ip"};
    spec.args.insert(spec.args.end(), args.begin(), args.end());
    spec.stderrMode = runtime::StdioMode::kNull;
    spec.killOnParentDeath = false;
    (void)rt_.processes().spawn(spec);
  };
  if (deleteLink) detached({"link", "del", port});
  if (--ports_[bridge] <= 0) {
    ports_.erase(bridge);
    detached({"link", "del", bridge});
  }
}

}  // namespace hcsshim::hcs_fake
