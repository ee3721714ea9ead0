#include "src/common/log.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace hcsshim {
namespace {

class StderrSink final : public LogSink {
 public:
  void write(LogLevel, std::string_view line) override {
    std::string buf(line);
    buf.push_back('\n');
    size_t off = 0;
    while (off < buf.size()) {
      ssize_t n = ::write(STDERR_FILENO, buf.data() + off, buf.size() - off);
      if (n <= 0) return;  // nowhere left to report a logging failure
      off += static_cast<size_t>(n);
    }
  }
};

struct LogState {
  std::atomic<int> level{static_cast<int>(LogLevel::kInfo)};
  std::mutex mu;
  std::shared_ptr<LogSink> sink = std::make_shared<StderrSink>();
  std::function<int64_t()> timeSource;
};

LogState& state() {
  static LogState* const s = new LogState();
  return *s;
}

int64_t realNanos() {
  // The one wall-clock read outside src/runtime: log timestamps are not
  // behaviour, and the simulator replaces this through setTimeSource.
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "?";
}

bool needsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) return true;
  }
  return false;
}

void appendValue(std::string& out, std::string_view v) {
  if (!needsQuotes(v)) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace

namespace log {

void setLevel(LogLevel l) { state().level.store(static_cast<int>(l), std::memory_order_relaxed); }
LogLevel level() { return static_cast<LogLevel>(state().level.load(std::memory_order_relaxed)); }

void setSink(std::shared_ptr<LogSink> sink) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().sink = sink ? std::move(sink) : std::make_shared<StderrSink>();
}

void setTimeSource(std::function<int64_t()> fn) {
  std::lock_guard<std::mutex> lock(state().mu);
  state().timeSource = std::move(fn);
}

StatusOr<LogLevel> parseLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  return InvalidArgumentError("unknown log level \"" + std::string(name) + "\" (want debug|info|warn|error|off)");
}

std::string formatTime(int64_t nanos) {
  time_t secs = static_cast<time_t>(nanos / 1000000000);
  int64_t frac = nanos % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  // The civil date of the UTC day (no gmtime_r: the same on every platform).
  using namespace std::chrono;
  sys_seconds t{seconds(secs)};
  sys_days day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss<seconds> hms{t - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%09lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()), static_cast<long long>(frac));
  return buf;
}

}  // namespace log

LogEvent::LogEvent(LogLevel level, std::string_view event) : level_(level) {
  int64_t now;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    now = state().timeSource ? state().timeSource() : realNanos();
  }
  line_.reserve(128);
  line_ += "time=";
  line_ += log::formatTime(now);
  line_ += " level=";
  line_ += levelName(level);
  line_ += " event=";
  appendValue(line_, event);
}

LogEvent::~LogEvent() {
  std::shared_ptr<LogSink> sink;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    sink = state().sink;
  }
  sink->write(level_, line_);
}

LogEvent& LogEvent::kv(std::string_view key, std::string_view value) {
  line_.push_back(' ');
  line_.append(key);
  line_.push_back('=');
  appendValue(line_, value);
  return *this;
}

LogEvent& LogEvent::kvRaw(std::string_view key, std::string_view value) { return kv(key, value); }

LogEvent& LogEvent::kv(std::string_view key, const Status& status) { return kv(key, status.toString()); }

LogEvent& LogEvent::hex(std::string_view key, uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return kv(key, std::string_view(buf));
}

}  // namespace hcsshim
