"""cc_toolchain_config for Debian's mingw-w64 g++ 12 (posix threads), C++20.

Static linking: the .exe files need no libstdc++ or winpthread DLL, so they
run under Wine or on a Windows host as they are.
"""

load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "artifact_name_pattern",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
)
load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")

_BIN = "/usr/bin/x86_64-w64-mingw32-"

_COMPILE = [
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
]
_CXX = [ACTION_NAMES.cpp_compile, ACTION_NAMES.cpp_header_parsing]
_LINK = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _impl(ctx):
    tools = [
        tool_path(name = "gcc", path = _BIN + "g++-posix"),
        tool_path(name = "cpp", path = _BIN + "cpp"),
        tool_path(name = "ar", path = _BIN + "ar"),
        tool_path(name = "ld", path = _BIN + "ld"),
        tool_path(name = "nm", path = _BIN + "nm"),
        tool_path(name = "objcopy", path = _BIN + "objcopy"),
        tool_path(name = "objdump", path = _BIN + "objdump"),
        tool_path(name = "strip", path = _BIN + "strip"),
        tool_path(name = "gcov", path = "/bin/false"),
    ]
    flags = feature(
        name = "mingw_flags",
        enabled = True,
        flag_sets = [
            flag_set(actions = _COMPILE, flag_groups = [flag_group(flags = [
                # .d files keep the symlinked include paths Bazel checks.
                "-fno-canonical-system-headers",
                "-DUNICODE",
                "-D_UNICODE",
                "-D_WIN32_WINNT=0x0A00",
                "-DWIN32_LEAN_AND_MEAN",
                "-DNOMINMAX",
            ])]),
            flag_set(actions = _CXX, flag_groups = [flag_group(flags = ["-std=c++20"])]),
            flag_set(actions = _LINK, flag_groups = [flag_group(flags = ["-static"])]),
        ],
    )
    opt = feature(
        name = "opt",
        flag_sets = [flag_set(actions = _COMPILE, flag_groups = [flag_group(flags = ["-O2", "-DNDEBUG"])])],
    )
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = [flags, opt, feature(name = "supports_pic", enabled = False)],
        toolchain_identifier = "mingw-w64-x86_64",
        host_system_name = "x86_64-unknown-linux-gnu",
        target_system_name = "x86_64-w64-mingw32",
        target_cpu = "x64_windows",
        target_libc = "mingw",
        compiler = "mingw-gcc",
        abi_version = "local",
        abi_libc_version = "local",
        tool_paths = tools,
        cxx_builtin_include_directories = [
            "/usr/lib/gcc/x86_64-w64-mingw32/",
            "/usr/x86_64-w64-mingw32/include",
            "/usr/share/mingw-w64/include",
        ],
        artifact_name_patterns = [
            artifact_name_pattern(category_name = "executable", prefix = "", extension = ".exe"),
            artifact_name_pattern(category_name = "dynamic_library", prefix = "", extension = ".dll"),
        ],
    )

mingw_cc_toolchain_config = rule(
    implementation = _impl,
    attrs = {},
    provides = [CcToolchainConfigInfo],
)
