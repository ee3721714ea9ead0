// hcsdiag: inspect and drive compute systems through the HCS API, like
// Windows' hcsdiag, against the fake HCS daemon (platforms/linux).
//
//   hcsdiag [--address unix:///...] [--record FILE | --replay FILE] list
//   hcsdiag create <id> <document.json>        (or - for stdin)
//   hcsdiag start|shutdown|terminate|pause|resume <id>
//   hcsdiag properties <id> [PropertyType ...]  (prints the Properties document)
//   hcsdiag exec [-i] [-t] <id> <command> [args...]  (stdio attached; -t: a console sized like
//                                                    ours; exits with the process's code)
//
// Errors print the operation, the system id and the HRESULT, and exit 1.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "platforms/linux/daemon_hcs.h"
#include "src/common/flags.h"
#include "src/common/log.h"
#include "src/hcs/compute_system.h"
#include "src/hcs/recording.h"
#include "src/runtime/read_file.h"
#include "tools/hcsdiag/commands.h"
#include "src/runtime/epoll_loop.h"
#include "src/runtime/fd_stream.h"
#include "src/runtime/real_runtime.h"

namespace {

using namespace hcsshim;
using runtime::Task;

constexpr const char* kExecUsage = "  exec [-i] [-t] <id> <command> [args...]\n";

int usage() { return hcsdiag::usage(kExecUsage); }

int fail(const Status& s) { return hcsdiag::fail(s); }

void writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

Task<void> copyOut(runtime::Stream* from, int fd) {
  char buf[65536];
  for (;;) {
    auto n = co_await from->read(buf);
    if (!n.ok() || *n == 0) co_return;
    writeAll(fd, std::string_view(buf, *n));
  }
}

Task<void> copyIn(runtime::Stream& from, hcs::Process& p) {
  char buf[65536];
  for (;;) {
    auto n = co_await from.read(buf);
    if (!n.ok() || *n == 0) break;
    if (!(co_await p.stdinStream()->write(std::string_view(buf, *n))).ok()) break;
  }
  (void)co_await p.closeStdin();
}

// Our terminal, raw while a console process owns it; restored on every exit path.
class RawTerminal {
 public:
  RawTerminal() {
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0) {
      struct termios raw = saved_;
      cfmakeraw(&raw);
      active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  struct termios saved_ {};
  bool active_ = false;
};

bool terminalSize(uint16_t& rows, uint16_t& cols) {
  struct winsize ws {};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return false;
  rows = ws.ws_row;
  cols = ws.ws_col;
  return true;
}

// Forwards SIGWINCH (our terminal was resized) to the console process until
// *stop is set. The signal is blocked and read from a signalfd.
Task<void> forwardResizes(runtime::EpollEventLoop& loop, hcs::Process& p, const bool& stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) co_return;
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) co_return;
  auto watch = loop.watchFd(fd);
  while (watch.ok() && !stop) {
    co_await (*watch)->readable();
    struct signalfd_siginfo si;
    bool resized = false;
    while (::read(fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) resized = true;
    uint16_t rows = 0, cols = 0;
    if (resized && !stop && terminalSize(rows, cols)) (void)co_await p.resizeConsole(rows, cols);
  }
  if (watch.ok()) loop.unwatch(*watch);
  ::close(fd);
}

// Where the HCS calls go: the daemon, recorded to a file, or a recording
// replayed instead of HCS (src/hcs/recording.h).
struct Traffic {
  std::string record, replay;
};

Task<int> runCommand(runtime::RealRuntime& rt, std::string address, std::vector<std::string> args, Traffic traffic) {
  std::unique_ptr<hcs::HcsApi> daemon;
  std::unique_ptr<hcs::ReplayHcsApi> replay;
  std::unique_ptr<hcs::RecordingHcsApi> recorder;
  std::ofstream recording;
  hcs::HcsApi* api = nullptr;
  if (!traffic.replay.empty()) {
    auto text = runtime::readFile(traffic.replay, 64 << 20);
    if (!text) co_return fail(NotFoundError("cannot read " + traffic.replay));
    auto r = hcs::ReplayHcsApi::load(rt.loop(), *text);
    if (!r.ok()) co_return fail(r.status().withContext("replay", traffic.replay));
    replay = std::move(*r);
    api = replay.get();
  } else {
    auto d = co_await platforms::DaemonHcs::connect(rt, address);
    if (!d.ok()) co_return fail(d.status());
    daemon = std::move(*d);
    api = daemon.get();
  }
  if (!traffic.record.empty()) {
    recording.open(traffic.record, std::ios::trunc);
    if (!recording) co_return fail(NotFoundError("cannot write " + traffic.record));
    recorder = std::make_unique<hcs::RecordingHcsApi>(*api, rt.loop(), [&recording](const std::string& line) {
      recording << line << "\n" << std::flush;
    });
    api = recorder.get();
  }
  hcs::HcsApi& hcs = *api;
  const std::string cmd = args[0];
  if (cmd != "exec") {
    std::optional<int> code = co_await hcsdiag::runCommon(hcs, rt.loop(), args, kExecUsage);
    if (replay && !replay->divergence().empty()) {
      std::fprintf(stderr, "hcsdiag: the replay of %s diverged: %s\n", traffic.replay.c_str(), replay->divergence().c_str());
      co_return 1;
    }
    co_return code ? *code : usage();
  }
  bool interactive = false;
  size_t at = 1;
  bool console = false;
  while (cmd == "exec" && at < args.size() && (args[at] == "-i" || args[at] == "-t" || args[at] == "-it")) {
    interactive = interactive || args[at] != "-t";
    console = console || args[at] != "-i";
    ++at;
  }
  if (at >= args.size()) co_return usage();
  auto cs = co_await hcs::ComputeSystem::open(hcs, rt.loop(), args[at]);
  if (!cs.ok()) co_return fail(cs.status());

  {
    if (at + 1 >= args.size()) co_return usage();
    schema::ProcessParameters pp;
    pp.commandArgs.assign(args.begin() + static_cast<long>(at) + 1, args.end());
    pp.createStdInPipe = interactive;
    pp.createStdOutPipe = true;
    pp.createStdErrPipe = !console;  // a console has one output stream
    if (console) {
      pp.emulateConsole = true;
      uint16_t rows = 24, cols = 80;
      (void)terminalSize(rows, cols);
      pp.consoleSize = {rows, cols};
    }
    auto p = co_await (*cs)->createProcess(pp);
    if (!p.ok()) co_return fail(p.status());
    // A console process gets our keystrokes unprocessed (^C goes to it, not
    // to us) and follows our window size.
    std::optional<RawTerminal> raw;
    bool exited = false, resizesDone = true;
    if (console) {
      raw.emplace();
      resizesDone = false;
      runtime::spawn([](runtime::EpollEventLoop& loop, hcs::Process& proc, const bool& stop, bool& done) -> Task<void> {
        co_await forwardResizes(loop, proc, stop);
        done = true;
      }(rt.epoll(), **p, exited, resizesDone));
    }
    bool outDone = false, errDone = false;
    runtime::spawn([](runtime::Stream* s, bool& done) -> Task<void> {
      co_await copyOut(s, STDOUT_FILENO);
      done = true;
    }((*p)->stdoutStream(), outDone));
    if ((*p)->stderrStream()) {
      runtime::spawn([](runtime::Stream* s, bool& done) -> Task<void> {
        co_await copyOut(s, STDERR_FILENO);
        done = true;
      }((*p)->stderrStream(), errDone));
    } else {
      errDone = true;
    }
    std::unique_ptr<runtime::FdStream> in;
    bool inDone = true;
    if (interactive) {
      struct stat sb;
      if (fstat(STDIN_FILENO, &sb) == 0 && S_ISREG(sb.st_mode)) {
        // Regular files cannot be polled: send the file whole.
        std::stringstream all;
        all << std::cin.rdbuf();
        (void)co_await (*p)->stdinStream()->write(all.str());
        (void)co_await (*p)->closeStdin();
      } else {
        auto s = runtime::FdStream::create(rt.epoll(), dup(STDIN_FILENO), runtime::FdStream::Kind::kPipeRead, "stdin");
        if (s.ok()) {
          in = std::move(*s);
          inDone = false;
          runtime::spawn([](runtime::Stream& from, hcs::Process& proc, bool& done) -> Task<void> {
            co_await copyIn(from, proc);
            done = true;
          }(*in, **p, inDone));
        }
      }
    }
    int code = co_await (*p)->wait();
    exited = true;
    if (console) ::raise(SIGWINCH);  // wakes the resize forwarder so it can finish
    if (in) in->close();  // wakes the stdin copier; it must finish before the process handle goes
    while (!outDone || !errDone || !resizesDone || !inDone) {
      co_await runtime::sleep(rt.loop(), std::chrono::milliseconds(1));
    }
    co_return code;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = hcsshim::platforms::defaultHcsAddress();
  bool help = false;
  hcsshim::FlagSet flags("hcsdiag");
  flags.string("address", &address, "the HCS (fake) daemon's socket");
  Traffic traffic;
  flags.string("record", &traffic.record, "write the HCS traffic to this file (JSON lines: src/hcs/recording.h)");
  flags.string("replay", &traffic.replay, "answer from this recording instead of HCS (a divergence: exit 1)");
  flags.boolean("help", &help, "this text");
  auto parsed = flags.parse(argc, argv, {.stopAtPositional = true});
  if (!parsed.ok()) std::fprintf(stderr, "%s\n", parsed.status().message().c_str());
  if (!parsed.ok() || help || parsed->empty()) return usage();
  std::vector<std::string> args = *parsed;
  hcsshim::log::setLevel(hcsshim::LogLevel::kWarn);
  auto rt = hcsshim::runtime::RealRuntime::create("hcsdiag");
  if (!rt.ok()) return fail(rt.status());
  int code = hcsshim::runtime::blockOn((*rt)->loop(), runCommand(**rt, address, args, traffic));
  hcsshim::runtime::drain((*rt)->loop());
  return code;
}
