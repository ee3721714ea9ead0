#include "platforms/windows/win_process.h"

#include <windows.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>

#include "platforms/windows/handle_stream.h"
#include "platforms/windows/win_thread.h"
#include "src/common/utf16.h"

namespace hcsshim::platforms::windows {

using runtime::Task;

std::string quoteCommandLine(const std::vector<std::string>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) out += ' ';
    const std::string& a = args[i];
    if (!a.empty() && a.find_first_of(" \t\n\v\"") == std::string::npos) {
      out += a;
      continue;
    }
    out += '"';
    size_t slashes = 0;
    for (char c : a) {
      if (c == '\\') {
        ++slashes;
        continue;
      }
      // Backslashes before a quote are doubled, and the quote escaped.
      if (c == '"') out.append(slashes * 2 + 1, '\\');
      else out.append(slashes, '\\');
      slashes = 0;
      out += c;
    }
    out.append(slashes * 2, '\\');  // before the closing quote
    out += '"';
  }
  return out;
}

namespace {

// The POSIX numbers (mingw's signal.h has neither).
constexpr int kSigKill = 9;
constexpr int kSigTerm = 15;

struct Exit {
  std::mutex mu;
  std::optional<runtime::ExitStatus> status;
  int terminatedBy = 0;  // the signal signal() asked for
};

class WinProcess final : public runtime::Process {
 public:
  WinProcess(runtime::EventLoop& loop, HANDLE process, DWORD pid) : loop_(loop), process_(process), pid_(pid) {
    auto exit = exit_;
    auto self = alive_;
    Status st = startThread([this, process, exit, self, &loop] {
      ::WaitForSingleObject(process, INFINITE);
      DWORD code = 0;
      ::GetExitCodeProcess(process, &code);
      runtime::ExitStatus s;
      {
        std::lock_guard<std::mutex> lock(exit->mu);
        s.exitCode = static_cast<int>(code);
        s.signal = exit->terminatedBy;
        exit->status = s;
      }
      loop.post([this, self] {
        if (*self) exited_.notifyAll();
      });
    });
    if (!st.ok()) std::fprintf(stderr, "win_process: no thread to wait for pid %lu: %s\n", pid, st.toString().c_str());
  }
  ~WinProcess() override {
    *alive_ = false;
    ::CloseHandle(process_);
  }
  int pid() const override { return static_cast<int>(pid_); }
  runtime::Stream* stdinStream() override { return stdio_[0].get(); }
  runtime::Stream* stdoutStream() override { return stdio_[1].get(); }
  runtime::Stream* stderrStream() override { return stdio_[2].get(); }
  std::unique_ptr<runtime::Stream> takeStdio(int fd) override {
    if (fd < 0 || fd > 2) return nullptr;
    return std::move(stdio_[fd]);
  }
  Status signal(int sig) override {
    if (exitStatus()) return NotFoundError("pid " + std::to_string(pid_) + " has exited");
    if (sig == 0) return OkStatus();
    if (sig != kSigKill && sig != kSigTerm) {
      return InvalidArgumentError("signal " + std::to_string(sig) + ": Windows processes can only be terminated (9, 15)");
    }
    {
      std::lock_guard<std::mutex> lock(exit_->mu);
      exit_->terminatedBy = sig;
    }
    if (!::TerminateProcess(process_, static_cast<UINT>(128 + sig))) {
      return win32Status(::GetLastError(), "TerminateProcess pid " + std::to_string(pid_));
    }
    return OkStatus();
  }
  Task<runtime::ExitStatus> wait() override {
    while (!exitStatus()) co_await exited_.wait();
    co_return *exitStatus();
  }
  std::optional<runtime::ExitStatus> exitStatus() const override {
    std::lock_guard<std::mutex> lock(exit_->mu);
    return exit_->status;
  }

  std::unique_ptr<runtime::Stream> stdio_[3];

 private:
  runtime::EventLoop& loop_;
  HANDLE process_;
  DWORD pid_;
  std::shared_ptr<Exit> exit_ = std::make_shared<Exit>();
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  runtime::WaitList exited_;
};

// Handles made for one spawn, closed on every path out.
struct Handles {
  std::vector<HANDLE> h;
  ~Handles() {
    for (HANDLE x : h) ::CloseHandle(x);
  }
  HANDLE add(HANDLE x) {
    h.push_back(x);
    return x;
  }
  HANDLE release(HANDLE x) {
    h.erase(std::remove(h.begin(), h.end(), x), h.end());
    return x;
  }
};

}  // namespace

WinProcessRunner::WinProcessRunner(runtime::EventLoop& loop) : loop_(loop) {}

WinProcessRunner::~WinProcessRunner() {
  if (job_) ::CloseHandle(static_cast<HANDLE>(job_));  // kills the children that asked for it
}

StatusOr<std::unique_ptr<runtime::Process>> WinProcessRunner::spawn(const runtime::ProcessSpec& spec) {
  auto refuse = [&](const char* what) {
    return UnimplementedError(std::string("spawn ") + spec.path + ": " + what + " is not available on Windows");
  };
  if (spec.terminal) return refuse("a pseudo-terminal");
  if (spec.isolate || spec.isolateNetwork || spec.joinNamespacesOf) return refuse("namespaces");
  if (!spec.extraFds.empty()) return refuse("extra descriptors");
  if (!spec.cgroups.empty()) return refuse("cgroups");
  if (spec.newSession) return refuse("a new session");
  if (spec.args.empty()) return InvalidArgumentError("spawn " + spec.path + ": no argv");

  HCS_ASSIGN_OR_RETURN(std::u16string app, toUtf16(spec.path));
  HCS_ASSIGN_OR_RETURN(std::u16string cmdline, toUtf16(quoteCommandLine(spec.args)));
  std::u16string cwd;
  if (!spec.cwd.empty()) {
    HCS_ASSIGN_OR_RETURN(cwd, toUtf16(spec.cwd));
  }
  std::u16string env;
  if (spec.env) {
    std::map<std::u16string, std::u16string> sorted;  // Windows wants the block sorted
    for (const auto& [k, v] : *spec.env) {
      if (k.empty() || k.find('=') != std::string::npos) return InvalidArgumentError("spawn: bad environment name " + k);
      HCS_ASSIGN_OR_RETURN(std::u16string wk, toUtf16(k));
      HCS_ASSIGN_OR_RETURN(std::u16string wv, toUtf16(v));
      sorted[wk] = wv;
    }
    for (const auto& [k, v] : sorted) env += k + u"=" + v + u'\0';
    env += u'\0';
    if (sorted.empty()) env += u'\0';
  }

  Handles made;
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE child[3] = {};
  HANDLE parent[3] = {INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE};
  const runtime::StdioMode modes[3] = {spec.stdinMode, spec.stdoutMode, spec.stderrMode};
  const DWORD stdIds[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
  for (int i = 0; i < 3; ++i) {
    switch (modes[i]) {
      case runtime::StdioMode::kNull:
        child[i] = made.add(::CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                                          OPEN_EXISTING, 0, nullptr));
        if (child[i] == INVALID_HANDLE_VALUE) return win32Status(::GetLastError(), "spawn: open NUL");
        break;
      case runtime::StdioMode::kInherit: {
        HANDLE mine = ::GetStdHandle(stdIds[i]);
        if (!mine || mine == INVALID_HANDLE_VALUE ||
            !::DuplicateHandle(::GetCurrentProcess(), mine, ::GetCurrentProcess(), &child[i], 0, TRUE, DUPLICATE_SAME_ACCESS)) {
          child[i] = made.add(::CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                            &inherit, OPEN_EXISTING, 0, nullptr));
        } else {
          made.add(child[i]);
        }
        break;
      }
      case runtime::StdioMode::kPipe: {
        HANDLE r, w;
        if (!::CreatePipe(&r, &w, &inherit, 0)) return win32Status(::GetLastError(), "spawn: CreatePipe");
        made.add(r);
        made.add(w);
        child[i] = i == 0 ? r : w;
        parent[i] = i == 0 ? w : r;
        ::SetHandleInformation(parent[i], HANDLE_FLAG_INHERIT, 0);  // the child gets only its end
        break;
      }
    }
  }

  SIZE_T size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
  std::vector<char> attrs(size);
  auto* list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attrs.data());
  if (!::InitializeProcThreadAttributeList(list, 1, 0, &size)) return win32Status(::GetLastError(), "spawn: attribute list");
  // (The same handle twice - stdout and stderr both NUL - is fine once.)
  std::vector<HANDLE> inherited;
  for (HANDLE h : child) {
    if (std::find(inherited.begin(), inherited.end(), h) == inherited.end()) inherited.push_back(h);
  }
  bool listed = ::UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited.data(),
                                            inherited.size() * sizeof(HANDLE), nullptr, nullptr);
  STARTUPINFOEXW si{};
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = child[0];
  si.StartupInfo.hStdOutput = child[1];
  si.StartupInfo.hStdError = child[2];
  si.lpAttributeList = listed ? list : nullptr;
  PROCESS_INFORMATION pi{};
  DWORD flags = CREATE_UNICODE_ENVIRONMENT | CREATE_SUSPENDED | (listed ? EXTENDED_STARTUPINFO_PRESENT : 0);
  BOOL ok = ::CreateProcessW(reinterpret_cast<LPCWSTR>(app.c_str()), reinterpret_cast<LPWSTR>(cmdline.data()), nullptr,
                             nullptr, TRUE, flags, spec.env ? env.data() : nullptr,
                             cwd.empty() ? nullptr : reinterpret_cast<LPCWSTR>(cwd.c_str()), &si.StartupInfo, &pi);
  DWORD err = ok ? 0 : ::GetLastError();
  ::DeleteProcThreadAttributeList(list);
  if (!ok) return win32Status(err, "spawn " + spec.path);
  if (spec.killOnParentDeath) {
    if (!job_) {
      HANDLE job = ::CreateJobObjectW(nullptr, nullptr);
      JOBOBJECT_EXTENDED_LIMIT_INFORMATION info{};
      info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
      if (job && ::SetInformationJobObject(job, JobObjectExtendedLimitInformation, &info, sizeof info)) job_ = job;
      else if (job) ::CloseHandle(job);
    }
    if (job_) (void)::AssignProcessToJobObject(static_cast<HANDLE>(job_), pi.hProcess);
  }
  ::ResumeThread(pi.hThread);
  ::CloseHandle(pi.hThread);
  auto p = std::make_unique<WinProcess>(loop_, pi.hProcess, pi.dwProcessId);
  const char* names[3] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; ++i) {
    if (parent[i] == INVALID_HANDLE_VALUE) continue;
    made.release(parent[i]);
    p->stdio_[i] = std::make_unique<HandleStream>(loop_, parent[i], "pid " + std::to_string(pi.dwProcessId) + " " + names[i]);
  }
  return std::unique_ptr<runtime::Process>(std::move(p));
}

}  // namespace hcsshim::platforms::windows
