"""libFuzzer targets, run two ways.

    load("//tools/build_defs:fuzz.bzl", "hcs_fuzz_test")

    hcs_fuzz_test(
        name = "hcs_schema_fuzzer",
        srcs = ["fuzz/hcs_schema_fuzzer.cc"],   # defines LLVMFuzzerTestOneInput
        corpus = "fuzz/corpus",                # files in the tree (tools/fuzz/run
                                               # looks for <package>/fuzz/corpus)
        deps = [":schema"],
    )

makes
  NAME_test  a test that feeds every corpus file, then seeded mutations of
             them (//src/common:fuzz_driver) - built by the project's own
             compiler, run by `bazel test //...`;
  NAME       the libFuzzer binary (tags manual + fuzzer; clang only):
             tools/fuzz/run builds every such target with --config=fuzz and
             runs each for a bounded time on a copy of its corpus.
"""

load(":cc.bzl", "hcs_cc_library", "hcs_cc_test")

def hcs_fuzz_test(name, srcs, corpus, deps = None, iterations = 20000, size = "small"):
    hcs_cc_library(
        name = name + "_target",
        testonly = True,
        srcs = srcs,
        deps = deps or [],
        alwayslink = True,
    )
    native.filegroup(
        name = name + "_corpus",
        testonly = True,
        srcs = native.glob([corpus + "/**"]),
    )
    hcs_cc_test(
        name = name + "_test",
        size = size,
        data = [":" + name + "_corpus"],
        env = {
            "FUZZ_CORPUS": native.package_name() + "/" + corpus,
            "FUZZ_ITERATIONS": str(iterations),
        },
        deps = [
            ":" + name + "_target",
            "//src/common:fuzz_driver",
        ],
    )
    native.cc_binary(
        name = name,
        testonly = True,
        deps = [":" + name + "_target"],
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual", "fuzzer"],
    )
