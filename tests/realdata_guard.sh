#!/usr/bin/env bash
# Checks that the accuracy bars cannot pass by skipping: runs every ctest test labelled
# `realdata` with EDGEREC_DATA pointing at an empty folder and CI=true, and expects each to FAIL
# (non-zero exit, not ctest's skip code, no "SKIPPED:" line), and at least five such tests.
# Usage: realdata_guard.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1
work=$2
rm -rf "$work"
mkdir -p "$work/empty-data"
# The list comes from a copy of the build's test files: ctest writes Testing/Temporary/LastTest.log
# even when it only lists, which would clobber the log of the ctest running this test.
(cd "$build" && find . -name CTestTestfile.cmake -exec cp --parents {} "$work/" \;)
ctest --test-dir "$work" -N -L realdata --show-only=json-v1 >"$work/tests.json"
EDGEREC_DATA="$work/empty-data" CI=true /usr/bin/python3 - "$work/tests.json" "$build/test-tmp" "$work" <<'PY'
import json, os, re, subprocess, sys
tests = json.load(open(sys.argv[1]))["tests"]
test_tmp, work = sys.argv[2], sys.argv[3]
failed_properly, problems = 0, []
for t in tests:
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    # A test's own scratch folder (test-tmp/...) is swapped for one of ours, so this check never
    # deletes the files of the same test running beside it under ctest -j.
    cmd = [a.replace(test_tmp, os.path.join(work, "tmp")) if a.startswith(test_tmp) else a for a in t["command"]]
    r = subprocess.run(cmd, cwd=props.get("WORKING_DIRECTORY"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace", timeout=300)
    skip_code = props.get("SKIP_RETURN_CODE")
    skip_re = props.get("SKIP_REGULAR_EXPRESSION", [])
    skip_re = skip_re if isinstance(skip_re, list) else [skip_re]
    if r.returncode == 0:
        problems.append(f"{t['name']}: passed without data")
    elif skip_code is not None and r.returncode == int(skip_code):
        problems.append(f"{t['name']}: skipped (exit {r.returncode}) under CI=true")
    elif any(re.search(x, r.stdout) for x in skip_re):
        problems.append(f"{t['name']}: printed a skip message under CI=true")
    elif "EDGEREC_DATA" not in r.stdout:
        problems.append(f"{t['name']}: failed without naming EDGEREC_DATA: {r.stdout[-300:]!r}")
    else:
        failed_properly += 1
print(f"{failed_properly} of {len(tests)} realdata tests fail as they should with an empty EDGEREC_DATA and CI=true")
for p in problems:
    print("FAIL:", p)
if len(tests) < 5:
    print(f"FAIL: only {len(tests)} tests carry the realdata label (expected at least 5)")
sys.exit(1 if problems or len(tests) < 5 else 0)
PY
