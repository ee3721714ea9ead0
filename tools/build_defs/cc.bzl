"""Project macros around the native C++ rules.

Every C++ target in the repository goes through these so that warnings,
the language level and test conventions are the same everywhere:

    load("//tools/build_defs:cc.bzl", "hcs_cc_library", "hcs_cc_test")

    hcs_cc_library(name = "status", srcs = ["status.cc"], hdrs = ["status.h"])
    hcs_cc_test(name = "status_test", srcs = ["status_test.cc"], deps = [":status"])

Tests that need real system components declare them with `needs`:
    needs = ["root", "containerd", "runc", "qemu"]
They are tagged `local` (run outside Bazel's sandbox, with the host's /run,
/proc and devices) plus one `requires-<x>` tag per need, so that they can be
selected or filtered with --test_tag_filters. They still run in
`bazel test //...`.
"""

WARNINGS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-missing-field-initializers",
]

def _copts(copts):
    return WARNINGS + (copts or [])

def hcs_cc_library(name, copts = None, visibility = None, **kwargs):
    native.cc_library(
        name = name,
        copts = _copts(copts),
        visibility = visibility or ["//visibility:public"],
        **kwargs
    )

def hcs_cc_binary(name, copts = None, **kwargs):
    native.cc_binary(
        name = name,
        copts = _copts(copts),
        **kwargs
    )

def hcs_cc_test(name, copts = None, deps = None, needs = None, tags = None, size = "small", gtest_main = True, **kwargs):
    """A gtest (with gmock) test; `needs` lists real system components it uses."""
    all_tags = list(tags or [])
    if needs:
        all_tags.append("local")
        for n in needs:
            all_tags.append("requires-" + n)
    all_deps = list(deps or []) + ["@system_libs//:gmock"]
    if gtest_main:
        all_deps.append("@system_libs//:gtest_main")
    native.cc_test(
        name = name,
        copts = _copts(copts),
        deps = all_deps,
        tags = all_tags,
        size = size,
        **kwargs
    )

def hcs_cc_bench(name, copts = None, deps = None, **kwargs):
    """A Google Benchmark binary (run it with `bazel run -c opt`)."""
    native.cc_binary(
        name = name,
        copts = _copts(copts),
        deps = list(deps or []) + ["@system_libs//:benchmark_main"],
        testonly = True,
        **kwargs
    )
