// hnsdiag: inspect and drive HNS/HCN objects, like Windows' hnsdiag, against
// the fake HNS of the hcs_fake daemon (platforms/linux DaemonHns).
//
//   hnsdiag [--address unix:///...] list networks|endpoints|namespaces|loadbalancers|routes [--filter JSON]
//   hnsdiag show <type> <id>                 (the object's properties, pretty JSON)
//   hnsdiag policies <type> <id>             (its policies, one per line)
//   hnsdiag create network <name> <NAT|Transparent|...> [<prefix> <gateway>]
//   hnsdiag create endpoint <network-id> [<ip>]
//   hnsdiag create namespace [Host|Guest]
//   hnsdiag create <type> --json <document.json|->   (any type; an endpoint takes --network ID)
//   hnsdiag attach <namespace-id> <endpoint-id> / detach <namespace-id> <endpoint-id>
//   hnsdiag delete <type> <id>
//   hnsdiag version
//
// Output of list: one object per line, id first. Errors print the operation,
// the object id and the HRESULT, and exit 1.
#include <cstdio>

#include "platforms/linux/daemon_hcs.h"
#include "platforms/linux/daemon_hns.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/runtime/real_runtime.h"
#include "tools/hnsdiag/commands.h"

using namespace hcsshim;
using hnsdiag::fail;
using hnsdiag::runCommand;
using hnsdiag::usage;

int main(int argc, char** argv) {
  std::string address = platforms::defaultHcsAddress();
  bool help = false;
  FlagSet flags("hnsdiag");
  flags.string("address", &address, "the HCS (fake) daemon's socket");
  flags.boolean("help", &help, "this text");
  auto parsed = flags.parse(argc, argv, {.stopAtPositional = true});
  if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().message().c_str());
  if (!parsed.ok() || help || parsed->empty()) return usage();
  std::vector<std::string> args = *parsed;
  log::setLevel(LogLevel::kWarn);
  auto rt = runtime::RealRuntime::create("hnsdiag");
  if (!rt.ok()) return fail(rt.status());
  auto api = runtime::blockOn((*rt)->loop(), platforms::DaemonHns::connect(**rt, address));
  if (!api.ok()) return fail(api.status());
  int code = runtime::blockOn((*rt)->loop(), runCommand(**api, args));
  api->reset();
  runtime::drain((*rt)->loop());  // the client's reader ends with the connection
  return code;
}
