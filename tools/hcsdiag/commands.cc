#include "tools/hcsdiag/commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "src/common/json.h"
#include "src/hcs/compute_system.h"

namespace hcsshim::hcsdiag {

using runtime::Task;

int usage(const char* extra) {
  std::fprintf(stderr,
               "usage: hcsdiag [--address ADDR] <command>\n"
               "  list\n"
               "  create <id> <document.json|->\n"
               "  start|shutdown|terminate|pause|resume <id>\n"
               "  properties <id> [PropertyType ...]\n"
               "%s",
               extra);
  return 2;
}

int fail(const Status& s) {
  std::fprintf(stderr, "hcsdiag: %s\n", s.toString().c_str());
  return 1;
}

namespace {

// field: a string member of an HCS document ("" if absent or not a string:
// the document comes from outside).
std::string field(const Json& o, const char* name) {
  if (!o.is_object() || !o.contains(name) || !o[name].is_string()) return "";
  return o[name].get<std::string>();
}

}  // namespace

Task<std::optional<int>> runCommon(hcs::HcsApi& hcs, runtime::EventLoop& loop, std::vector<std::string> args,
                                   const char* usageExtra) {
  if (args.empty()) co_return usage(usageExtra);
  const std::string cmd = args[0];
  if (cmd == "list") {
    auto list = co_await hcs.enumerateComputeSystems("");
    if (!list.ok()) co_return fail(list.status());
    auto j = parseJson(*list);
    if (!j.ok()) co_return fail(j.status().withContext("EnumerateComputeSystems", ""));
    if (!j->is_array()) co_return fail(InvalidArgumentError("EnumerateComputeSystems: the result is not an array: " + *list));
    std::printf("%-40s %-16s %-10s %s\n", "ID", "TYPE", "STATE", "OWNER");
    for (const auto& s : *j) {
      std::printf("%-40s %-16s %-10s %s\n", field(s, "Id").c_str(), field(s, "SystemType").c_str(), field(s, "State").c_str(),
                  field(s, "Owner").c_str());
    }
    co_return 0;
  }
  static const char* const kVerbs[] = {"create", "start", "shutdown", "terminate", "pause", "resume", "properties"};
  bool known = false;
  for (const char* v : kVerbs) known = known || cmd == v;
  if (!known) co_return std::nullopt;
  if (args.size() < 2) co_return usage(usageExtra);
  if (cmd == "create") {
    if (args.size() != 3) co_return usage(usageExtra);
    std::stringstream doc;
    if (args[2] == "-") {
      doc << std::cin.rdbuf();
    } else {
      std::ifstream f(args[2]);
      if (!f) co_return fail(NotFoundError("cannot read " + args[2]));
      doc << f.rdbuf();
    }
    auto h = co_await hcs.createComputeSystem(args[1], doc.str());
    if (!h.ok()) co_return fail(h.status().withContext("CreateComputeSystem", args[1]));
    hcs.closeComputeSystem(*h);
    std::printf("%s\n", args[1].c_str());
    co_return 0;
  }
  auto cs = co_await hcs::ComputeSystem::open(hcs, loop, args[1]);
  if (!cs.ok()) co_return fail(cs.status());
  Status st;
  if (cmd == "start") {
    st = co_await (*cs)->start();
  } else if (cmd == "shutdown") {
    st = co_await (*cs)->shutdown();
  } else if (cmd == "terminate") {
    st = co_await (*cs)->terminate();
  } else if (cmd == "pause") {
    st = co_await (*cs)->pause();
  } else if (cmd == "resume") {
    st = co_await (*cs)->resume();
  } else {
    auto p = co_await (*cs)->properties(std::vector<std::string>(args.begin() + 2, args.end()));
    if (!p.ok()) co_return fail(p.status());
    std::printf("%s\n", schema::encode(*p).dump(2).c_str());
    co_return 0;
  }
  if (!st.ok()) co_return fail(st);
  co_return 0;
}

}  // namespace hcsshim::hcsdiag
