// ComputeStorage (the code a Windows host runs) under Wine, against the
// stand-in computestorage.dll (fake_computestorage.cc) in System32 - or,
// for the *WithoutTheDll* cases, with none: UTF-16 paths and documents
// both ways, HRESULT errors naming the call and the layer, the returned
// mount path freed, a missing export and a missing DLL named.
#include <gtest/gtest.h>
#include <windows.h>


#include "platforms/windows/computestorage.h"
#include "src/runtime/threaded_loop.h"

namespace hcsshim::platforms::windows {
namespace {

class ComputeStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wchar_t tmp[MAX_PATH];
    GetTempPathW(MAX_PATH, tmp);
    base_ = std::wstring(tmp) + L"cs-test-" + std::to_wstring(GetCurrentProcessId()) + L"-" +
            std::to_wstring(counter_++);
    CreateDirectoryW(base_.c_str(), nullptr);
  }
  template <typename T>
  T run(runtime::Task<T> t) {
    return runtime::blockOn(loop_, std::move(t));
  }
  static std::string utf8(const std::wstring& w) {
    int n = WideCharToMultiByte(CP_UTF8, 0, w.c_str(), -1, nullptr, 0, nullptr, nullptr);
    std::string s(static_cast<size_t>(n), '\0');
    WideCharToMultiByte(CP_UTF8, 0, w.c_str(), -1, s.data(), n, nullptr, nullptr);
    s.resize(static_cast<size_t>(n - 1));
    return s;
  }
  static std::wstring readWide(const std::wstring& path) {
    HANDLE h = CreateFileW(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, 0, nullptr);
    if (h == INVALID_HANDLE_VALUE) return L"<missing>";
    wchar_t buf[4096] = {};
    DWORD n = 0;
    ReadFile(h, buf, sizeof buf - 2, &n, nullptr);
    CloseHandle(h);
    return std::wstring(buf, n / sizeof(wchar_t));
  }
  std::string path(const std::wstring& leaf) const { return utf8(base_ + L"\\" + leaf); }
  bool exists(const std::wstring& leaf) const { return GetFileAttributesW((base_ + L"\\" + leaf).c_str()) != INVALID_FILE_ATTRIBUTES; }

  static inline int counter_ = 0;
  std::wstring base_;
  runtime::ThreadedEventLoop loop_;
  ComputeStorage storage_{loop_};
};

TEST_F(ComputeStorageTest, ALayerIsImportedWithItsLayerDataAndDestroyed) {
  CreateDirectoryW((base_ + L"\\src").c_str(), nullptr);
  HANDLE f = CreateFileW((base_ + L"\\src\\hello.txt").c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, 0, nullptr);
  ASSERT_NE(f, INVALID_HANDLE_VALUE);
  DWORD n = 0;
  WriteFile(f, "hi", 2, &n, nullptr);
  CloseHandle(f);
  std::string data = storage::layerData({{.id = "8b6cbf3c-1b3e-4f3a-9a52-4e8f0f0f0f01", .path = path(L"base-\u00fc\u00ef")}});
  std::string layer = path(L"layer-\u00fc\u00ef\u4e2d");  // UTF-8 here, UTF-16 in the DLL
  Status imported = run(storage_.importLayer(layer, path(L"src"), data));
  ASSERT_TRUE(imported.ok()) << imported.toString();
  EXPECT_TRUE(exists(L"layer-\u00fc\u00ef\u4e2d\\hello.txt")) << "the DLL got the path as UTF-16";
  std::wstring seen = readWide(base_ + L"\\layer-\u00fc\u00ef\u4e2d\\layerdata.json");
  EXPECT_EQ(utf8(seen), data) << "the LayerData document crossed intact";
  ASSERT_TRUE(run(storage_.destroyLayer(layer)).ok());
  EXPECT_FALSE(exists(L"layer-\u00fc\u00ef\u4e2d"));
  Status again = run(storage_.destroyLayer(layer));
  EXPECT_EQ(again.hresult(), 0x80070003u) << again.toString();  // HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND)
  EXPECT_NE(again.toString().find("HcsDestroyLayer"), std::string::npos) << again.toString();
  EXPECT_NE(again.toString().find(layer), std::string::npos) << again.toString();
}

TEST_F(ComputeStorageTest, ImportFromAFolderThatIsNotThereIsPathNotFound) {
  Status st = run(storage_.importLayer(path(L"l"), path(L"nope"), storage::layerData({})));
  EXPECT_EQ(st.hresult(), 0x80070003u) << st.toString();
  EXPECT_FALSE(exists(L"l"));
}

TEST_F(ComputeStorageTest, TheStorageFilterAttachesOnceAndDetachesOnce) {
  std::string layer = path(L"w");
  std::string data = storage::layerData({});
  ASSERT_TRUE(run(storage_.initializeWritableLayer(layer, data, "")).ok());
  ASSERT_TRUE(run(storage_.attachLayerStorageFilter(layer, data)).ok());
  EXPECT_EQ(run(storage_.attachLayerStorageFilter(layer, data)).hresult(), 0x800700B7u);  // ERROR_ALREADY_EXISTS
  ASSERT_TRUE(run(storage_.detachLayerStorageFilter(layer)).ok());
  EXPECT_EQ(run(storage_.detachLayerStorageFilter(layer)).hresult(), 0x80070490u);  // ERROR_NOT_FOUND
  ASSERT_TRUE(run(storage_.exportLayer(layer, path(L"out"), data, R"({"IsWritableLayer":true})")).ok());
  EXPECT_EQ(utf8(readWide(base_ + L"\\out\\options.json")), R"({"IsWritableLayer":true})");
}

TEST_F(ComputeStorageTest, TheMountPathIsReturnedAndABadHandleIsEHandle) {
  auto p = run(storage_.getLayerVhdMountPath(0x1234));
  ASSERT_TRUE(p.ok()) << p.status().toString();
  EXPECT_EQ(*p, "\\\\?\\Volume{0b6d4a8e-1c2f-4e3a-8b9c-7d6e5f4a3b21}\\");
  EXPECT_TRUE(run(storage_.formatWritableLayerVhd(0x1234)).ok());
  EXPECT_EQ(run(storage_.getLayerVhdMountPath(0x99)).status().hresult(), 0x80070006u);  // E_HANDLE
  EXPECT_EQ(run(storage_.formatWritableLayerVhd(0x99)).hresult(), 0x80070006u);
  EXPECT_EQ(run(storage_.setupBaseOsVolume(path(L"x"), "C:\\", "")).hresult(), 0x80004001u);  // E_NOTIMPL
}

TEST_F(ComputeStorageTest, AMissingExportAndANonUtf8PathAreNamed) {
  Status st = run(storage_.setupBaseOsLayer(path(L"x"), 0x1234, "{}"));
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.toString();
  EXPECT_NE(st.toString().find("computestorage.dll has no export HcsSetupBaseOSLayer"), std::string::npos) << st.toString();
  Status bad = run(storage_.destroyLayer(std::string("C:\\bad\xff\xfe")));
  EXPECT_EQ(bad.code(), Code::kInvalidArgument) << bad.toString();
}

TEST_F(ComputeStorageTest, WithoutTheDllEveryCallSaysSo) {
  Status st = run(storage_.destroyLayer(path(L"x")));
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.toString();
  EXPECT_NE(st.toString().find("computestorage.dll could not be loaded: error 126"), std::string::npos) << st.toString();
  auto p = run(storage_.getLayerVhdMountPath(0x1234));
  EXPECT_EQ(p.status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace hcsshim::platforms::windows
