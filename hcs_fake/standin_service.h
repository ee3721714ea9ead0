// standin_service.h: the fake HCS and HNS as the stand-in computecore.dll
// and computenetwork.dll reach them (platforms/windows/standin: test-only
// DLLs a Windows program loads under Wine, which has no AF_UNIX - so this
// serves loopback TCP, and a token stands in for the peer credentials the
// ttrpc socket checks).
//
//   hcs_fake --standin=tcp://127.0.0.1:0 --standin-token-file=T ...
//   (the bound address is logged and written to <state-dir>/standin.address)
//
// Wire: one JSON object per line (UTF-8, "\n"-terminated, at most
// kMaxLine bytes). The client's first line is
//   {"hello":"hcs-standin/1","token":"<the token file's first line>"}
// answered {"seq":0,"hresult":0}; a wrong token or hello gets E_ACCESSDENIED
// and the connection ends. Then requests, answered in any order (calls run
// concurrently, as HCS operations do):
//   {"seq":N,"call":"create","id":"vm1","document":"<configuration>"}
//   -> {"seq":N,"hresult":0,"handle":7}   or
//   -> {"seq":N,"hresult":2147942487,"document":"<HCS result document>"}
// ("hresult" is the HRESULT as an unsigned 32-bit number.)
// calls (HcsApi verbs; "handle" is a system or process handle of this
// connection; "document" the call's JSON text):
//   enumerate(document=query) create(id,document) open(id)
//   start|shutdown|terminate|pause|resume|save|modify(handle,document)
//   properties(handle,document=query) close(handle) watch(handle)
//   createProcess(handle,document) openProcess(handle,pid)
//   signalProcess|modifyProcess(handle,document) terminateProcess(handle)
//   processProperties(handle) closeProcess(handle) watchProcess(handle)
//   hcn.enumerate(object,document) hcn.create(object,id,network,document)
//   hcn.query(object,id,document) hcn.modify(object,id,document)
//   hcn.delete(object,id) hns.call(method,path,document)
// Results carry "document" (a returned document), "handle", "pid".
// createProcess with stdio pipes also answers "stdio":{"in":P,"out":P,
// "err":P}: a loopback port per pipe, each taking one connection that
// starts with the token and a "\n"; then its bytes are the pipe's (in: to
// the process, whose stdin closes at the connection's EOF; out and err:
// from it, EOF when the process closes the pipe). A port nobody connects
// to within 30 s closes.
// After watch/watchProcess the handle's notifications arrive as
//   {"event":{"handle":H,"process":false,"type":T,"data":"<EventData>"}}
// until it is closed. A connection's handles close when it ends (as HCS
// closes a dead client's).
//
// Bad input: a line that is not a JSON object, or longer than kMaxLine,
// gets {"seq":0,"hresult":E_INVALIDARG,...} and the connection ends; an
// unknown call is E_NOTIMPL, a missing or mistyped field E_INVALIDARG, an
// unknown handle what the fake HCS says (HCS_E_INVALID_HANDLE ...) - the
// connection goes on. A stdio connection without the token is closed.
#pragma once

#include <memory>
#include <string>

#include "hcs_fake/hns.h"
#include "hcs_fake/service.h"
#include "src/runtime/runtime.h"

namespace hcsshim::hcs_fake {

class StandinService {
 public:
  static constexpr size_t kMaxLine = 8u << 20;

  StandinService(runtime::Runtime& rt, FakeHcsService& hcs, FakeHns& hns, std::string token);
  ~StandinService();

  // serve accepts connections until the listener closes or shutdown().
  runtime::Task<void> serve(std::unique_ptr<runtime::Listener> listener);
  // shutdown stops accepting and ends every connection.
  void shutdown();
  size_t connectionCount() const;

  struct State;

 private:
  std::shared_ptr<State> s_;
};

}  // namespace hcsshim::hcs_fake
