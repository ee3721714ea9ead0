// hns_daemon_service.h: the fake HNS on the hcs_fake daemon's ttrpc server
// (service hcsshim.hcsfake.v1.Hns, method Call; see api/hcs_fake.proto).
#pragma once

#include "hcs_fake/hns.h"
#include "src/ttrpc/server.h"

namespace hcsshim::hcs_fake {

inline constexpr char kHnsService[] = "hcsshim.hcsfake.v1.Hns";

void registerHnsService(FakeHns& hns, ttrpc::Server& server);

}  // namespace hcsshim::hcs_fake
