"""Fuzz targets that build with libFuzzer under --config=fuzz and as corpus replayers otherwise.

See documents/fuzzing.md.
"""

def resdb_fuzzer(name, srcs, deps = []):
    """A binary around LLVMFuzzerTestOneInput, tagged for scripts/fuzz.sh.

    Under --config=fuzz (clang) it is a libFuzzer binary; in the ordinary build its main runs
    the target once on every file or directory named on the command line.
    """
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        deps = deps + select({
            "//tools:libfuzzer": [],
            "//conditions:default": ["//platform/common/fuzz:replay_main"],
        }),
        linkopts = select({
            "//tools:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        tags = ["fuzz_target"],
    )

def resdb_fuzz_seeds(name, srcs, fuzzers, deps = []):
    """The seed writer of one package's fuzz targets, and a test replaying its seeds.

    `name` is a binary that writes DIR/<fuzzer>/seed_<n> (scripts/fuzz.sh finds it by its
    tag); `name`_test runs every fuzzer in `fuzzers` on its seeds, so that the ordinary test
    run keeps the targets building and checks that no seed crashes them.
    """
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        deps = deps + ["//platform/common/fuzz:seed_main"],
        tags = ["fuzz_seeds"],
    )
    native.sh_test(
        name = name + "_test",
        size = "small",
        srcs = ["//tools:fuzz_seeds_test.sh"],
        args = ["$(location :%s)" % name] + ["$(location %s)" % f for f in fuzzers],
        data = [":" + name] + fuzzers,
    )
