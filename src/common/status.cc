#include "src/common/status.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hcsshim {
namespace {

const std::string& emptyString() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}

}  // namespace

std::string codeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kCancelled: return "Cancelled";
    case Code::kUnknown: return "Unknown";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kDeadlineExceeded: return "DeadlineExceeded";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kPermissionDenied: return "PermissionDenied";
    case Code::kResourceExhausted: return "ResourceExhausted";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kAborted: return "Aborted";
    case Code::kOutOfRange: return "OutOfRange";
    case Code::kUnimplemented: return "Unimplemented";
    case Code::kInternal: return "Internal";
    case Code::kUnavailable: return "Unavailable";
    case Code::kDataLoss: return "DataLoss";
    case Code::kUnauthenticated: return "Unauthenticated";
  }
  return "Code(" + std::to_string(static_cast<int32_t>(code)) + ")";
}

Code codeFromHResult(HResult hr) {
  using namespace hresult;
  if (succeeded(hr)) return Code::kOk;
  switch (hr) {
    case kInvalidArg:
    case kInvalidData:
    case kHcsInvalidJson:
    case kVmcomputeInvalidJson:
    case kHcsInvalidLayer:
    case kHcsImageMismatch:
    case kHcnInvalidNetworkType:
    case kHcnInvalidEndpoint:
    case kHcnInvalidPolicy:
    case kHcnInvalidPolicyType:
    case kHcnInvalidJson:
    case kHcnInvalidIp:
    case kHcnInvalidPrefix:
    case kHcnInvalidSubnet:
      return Code::kInvalidArgument;
    case kHcsSystemNotFound:
    case kVmcomputeSystemNotFound:
    case kElementNotFound:
    case kFileNotFound:
      return Code::kNotFound;
    case kHcsSystemAlreadyExists:
    case kAlreadyExists:
    case kHcnPortAlreadyExists:
    case kHcnNetworkAlreadyExists:
    case kHcnPolicyAlreadyExists:
    case kHcnEndpointAlreadyAttached:
      return Code::kAlreadyExists;
    case kHcnEntityHasReferences:
    case kHcnEndpointNotAttached:
      return Code::kFailedPrecondition;
    case kNoMoreItems:
      return Code::kResourceExhausted;
    case kHcnRequestUnsupported:
      return Code::kUnimplemented;
    case kHcsInvalidState:
    case kVmcomputeInvalidState:
    case kInvalidState:
    case kHcsSystemAlreadyStopped:
    case kVmcomputeAlreadyStopped:
    case kHcsProcessAlreadyStopped:
    case kHcsTerminated:
    case kHcsUnexpectedExit:
    case kVmcomputeUnexpectedExit:
    case kHcsUnsupportedProtocolVersion:
    case kVmcomputeUnsupportedProtocolVersion:
    case kInvalidHandle:
      return Code::kFailedPrecondition;
    case kNotImpl:
    case kNotSupported:
    case kHcsUnknownMessage:
    case kVmcomputeUnknownMessage:
    case kHcsHypervNotInstalled:
      return Code::kUnimplemented;
    case kHcsConnectionTimeout:
    case kVmcomputeTimeout:
    case kHcsOperationTimeout:
    case kTimeout:
      return Code::kDeadlineExceeded;
    case kHcsServiceNotAvailable:
    case kHcsConnectFailed:
    case kHcsConnectionClosed:
    case kServiceNotActive:
      return Code::kUnavailable;
    case kHcsAccessDenied:
    case kAccessDenied:
      return Code::kPermissionDenied;
    case kOutOfMemory:
      return Code::kResourceExhausted;
    case kHcsTerminatedDuringStart:
    case kHcsGuestCriticalError:
    case kAbort:
      return Code::kAborted;
    case kCancelled:
      return Code::kCancelled;
    case kBounds:
      return Code::kOutOfRange;
    case kUnexpected:
    case kHcsProtocolError:
      return Code::kInternal;
    default:
      return Code::kUnknown;
  }
}

HResult hresultFromCode(Code code) {
  using namespace hresult;
  switch (code) {
    case Code::kOk: return kOk;
    case Code::kCancelled: return kCancelled;
    case Code::kUnknown: return kFail;
    case Code::kInvalidArgument: return kInvalidArg;
    case Code::kDeadlineExceeded: return kTimeout;
    case Code::kNotFound: return kElementNotFound;
    case Code::kAlreadyExists: return kAlreadyExists;
    case Code::kPermissionDenied: return kAccessDenied;
    case Code::kResourceExhausted: return kOutOfMemory;
    case Code::kFailedPrecondition: return kInvalidState;
    case Code::kAborted: return kAbort;
    case Code::kOutOfRange: return kBounds;
    case Code::kUnimplemented: return kNotImpl;
    case Code::kInternal: return kUnexpected;
    case Code::kUnavailable: return kServiceNotActive;
    case Code::kDataLoss: return kFail;
    case Code::kUnauthenticated: return kAccessDenied;
  }
  return kFail;
}

Status::Status(Code code, std::string message) {
  if (code == Code::kOk) return;
  rep_ = std::make_shared<const Rep>(Rep{code, hresultFromCode(code), {}, {}, std::move(message), {}});
}

Status Status::fromHResult(HResult hr, std::string op, std::string id, std::string message) {
  if (hresult::succeeded(hr)) return Status();
  return withCode(codeFromHResult(hr), hr, std::move(op), std::move(id), std::move(message));
}

Status Status::withCode(Code code, HResult hr, std::string op, std::string id, std::string message) {
  Status s;
  if (code == Code::kOk) return s;
  s.rep_ = std::make_shared<const Rep>(Rep{code, hr, std::move(op), std::move(id), std::move(message), {}});
  return s;
}

const std::string& Status::op() const { return rep_ ? rep_->op : emptyString(); }
const std::string& Status::id() const { return rep_ ? rep_->id : emptyString(); }
const std::string& Status::message() const { return rep_ ? rep_->message : emptyString(); }

Status Status::withContext(std::string_view op, std::string_view id) const {
  if (ok()) return *this;
  Status s = withCode(rep_->code, rep_->hresult, rep_->op.empty() ? std::string(op) : rep_->op,
                      rep_->id.empty() ? std::string(id) : rep_->id, rep_->message);
  return s.withErrorEvents(rep_->errorEvents);
}

const std::string& Status::errorEvents() const { return rep_ ? rep_->errorEvents : emptyString(); }

Status Status::withErrorEvents(std::string eventsJson) const {
  if (ok()) return *this;
  Status s;
  s.rep_ = std::make_shared<const Rep>(
      Rep{rep_->code, rep_->hresult, rep_->op, rep_->id, rep_->message, std::move(eventsJson)});
  return s;
}

std::string Status::toString() const {
  if (ok()) return "OK";
  std::string out;
  if (!rep_->op.empty()) {
    out += rep_->op;
    if (!rep_->id.empty()) out += "(" + rep_->id + ")";
    out += ": ";
  } else if (!rep_->id.empty()) {
    out += rep_->id + ": ";
  }
  out += rep_->message;
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", rep_->hresult);
  out += " [" + codeName(rep_->code) + ", HRESULT " + hex;
  std::string_view n = hresult::name(rep_->hresult);
  if (!n.empty()) {
    out += " ";
    out += n;
  }
  out += "]";
  return out;
}

bool operator==(const Status& a, const Status& b) {
  if (a.ok() || b.ok()) return a.ok() == b.ok();
  return a.code() == b.code() && a.hresult() == b.hresult() && a.op() == b.op() && a.id() == b.id() &&
         a.message() == b.message();
}

std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.toString(); }

Status InvalidArgumentError(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
Status NotFoundError(std::string m) { return Status(Code::kNotFound, std::move(m)); }
Status AlreadyExistsError(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
Status FailedPreconditionError(std::string m) { return Status(Code::kFailedPrecondition, std::move(m)); }
Status UnavailableError(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
Status UnimplementedError(std::string m) { return Status(Code::kUnimplemented, std::move(m)); }
Status InternalError(std::string m) { return Status(Code::kInternal, std::move(m)); }
Status DeadlineExceededError(std::string m) { return Status(Code::kDeadlineExceeded, std::move(m)); }
Status CancelledError(std::string m) { return Status(Code::kCancelled, std::move(m)); }
Status ResourceExhaustedError(std::string m) { return Status(Code::kResourceExhausted, std::move(m)); }
Status PermissionDeniedError(std::string m) { return Status(Code::kPermissionDenied, std::move(m)); }
Status AbortedError(std::string m) { return Status(Code::kAborted, std::move(m)); }

std::string validUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len > 1) {
      // Reject overlong forms, surrogates and values above U+10FFFF.
      uint32_t cp = c & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k) cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
      ++i;
    }
  }
  return out;
}

Status errnoStatus(int err, std::string op, std::string id) {
  Code code;
  switch (err) {
    case ENOENT: case ESRCH: code = Code::kNotFound; break;
    case EEXIST: case EADDRINUSE: code = Code::kAlreadyExists; break;
    case EACCES: case EPERM: code = Code::kPermissionDenied; break;
    case EINVAL: case ENAMETOOLONG: case EBADF: code = Code::kInvalidArgument; break;
    case ECONNREFUSED: case ECONNRESET: case EPIPE: case EAGAIN: case ENOTCONN: case ECONNABORTED:
      code = Code::kUnavailable; break;
    case ETIMEDOUT: code = Code::kDeadlineExceeded; break;
    case ENOMEM: case EMFILE: case ENFILE: case ENOSPC: code = Code::kResourceExhausted; break;
    case ECANCELED: code = Code::kCancelled; break;
    case ENOSYS: case EOPNOTSUPP: code = Code::kUnimplemented; break;
    default: code = Code::kUnknown; break;
  }
  // Win32 errors share numbering with HRESULT_FROM_WIN32 only by accident; keep the canonical one.
  return Status::withCode(code, hresultFromCode(code), std::move(op), std::move(id), std::strerror(err));
}

}  // namespace hcsshim
