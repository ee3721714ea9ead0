#!/usr/bin/env bash
# hnsdiag.exe under Wine: computenetwork.dll (HCN) and vmcompute.dll
# (HNSCall) are loaded at run time; Wine has neither, so each command fails
# naming the DLL it needs and the Win32 error; bad operands are refused
# before any DLL is reached.
set -u
source "${TEST_SRCDIR}/${TEST_WORKSPACE}/tools/build_defs/wine_env.sh"
exe="${TEST_SRCDIR}/${TEST_WORKSPACE}/tools/hnsdiag/hnsdiag_exe.exe"
expect() { wine_expect "$exe" "$@"; }
expect 1 "HcnEnumerateNetworks: computenetwork.dll could not be loaded: error 126 (the module was not found)" -- list networks
expect 1 "HcnQueryEndpointProperties(2b1f3c1e-0000-4000-8000-000000000001): computenetwork.dll could not be loaded" -- show endpoint 2b1f3c1e-0000-4000-8000-000000000001
expect 1 "is not a GUID" -- delete network not-a-guid
expect 1 "vmcompute.dll could not be loaded: error 126" -- version
expect 2 "usage: hnsdiag" -- frobnicate
exit $fails
