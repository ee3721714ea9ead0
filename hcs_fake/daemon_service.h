// daemon_service.h: serves a FakeHcsService over ttrpc (service
// "hcsshim.hcsfake.v1.Hcs", see api/hcs_fake.proto). One client session per
// connection; a dropped connection closes that session's handles, so a client
// killed mid-operation leaves the service consistent.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "hcs_fake/service.h"
#include "src/ttrpc/server.h"

namespace hcsshim::hcs_fake {

inline constexpr char kHcsService[] = "hcsshim.hcsfake.v1.Hcs";

class DaemonService {
 public:
  // A client session's HCS: what answers one connection's calls, and how
  // its handles are all closed when the connection ends.
  struct SessionApi {
    std::unique_ptr<hcs::HcsApi> api;
    std::function<void()> closeAll;
    std::function<void()> ended;  // after closeAll (may be empty)
  };
  using SessionFactory = std::function<SessionApi(uint64_t connectionId)>;

  // stdioDir is where per-process stdio relay sockets are created.
  DaemonService(runtime::Runtime& rt, FakeHcsService& service, ttrpc::Server& server, std::string stdioDir);
  // The same wire, each session answered by what `factory` makes (hcs_fake
  // --replay: a recording per connection).
  DaemonService(runtime::Runtime& rt, SessionFactory factory, ttrpc::Server& server, std::string stdioDir);
  ~DaemonService();

  size_t sessionCount() const;
  // activeRelays counts stdio relays still running (0 once everything is torn down).
  size_t activeRelays() const;
  // disconnectAll ends every session's event wait (the daemon is stopping).
  void disconnectAll();

  struct Session;
  struct State;

 private:
  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::hcs_fake
