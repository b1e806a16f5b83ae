# Shared helpers for the CLI tests: each test script gets BIN, a fresh WORK dir and DATA (the
# real-data folder: $EDGEREC_DATA at run time when set, else the configured default, argument 3).
set -euo pipefail
BIN=$1
WORK=$2
DATA=${EDGEREC_DATA:-${3:-}}
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
fails=0
pass=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect_ok DESC CMD...   — command must exit 0
expect_ok() { local d=$1; shift; if "$@" >out.txt 2>err.txt; then ok; else fail "$d (exit $?): $(head -c 400 err.txt)"; fi; }
# expect_err DESC PATTERN CMD...  — must exit non-zero with exactly one stderr line matching PATTERN
expect_err() {
  local d=$1 pat=$2; shift 2
  if "$@" >out.txt 2>err.txt; then fail "$d: expected failure, got exit 0"; return; fi
  if ! grep -qE "$pat" err.txt; then fail "$d: stderr does not match /$pat/: $(head -c 400 err.txt)"; return; fi
  ok
}
# json_get FILE EXPR — evaluate a python expression on the parsed JSON `j`
json_get() { /usr/bin/python3 -c "import json,sys; j=json.load(open('$1')); print($2)"; }
# skip_if_no_data FILE... — real data is optional (exit 77: skipped) except under CI (CI=true or
# CI=1), where a missing file fails the test, so an accuracy bar cannot pass by being skipped.
skip_if_no_data() {
  local f
  for f in "$@"; do
    [ -n "$DATA" ] && [ -f "$DATA/$f" ] && continue
    if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
      echo "FAIL: real data missing: $f not found under '$DATA' (CI is set, so this fails instead of skipping; point EDGEREC_DATA at the data folder)" >&2
      exit 1
    fi
    echo "SKIPPED: $f not found under '$DATA' (real data is optional; set EDGEREC_DATA to the data folder)"
    exit 77
  done
}
finish() {
  echo "$pass passed, $fails failed"
  [ "$fails" -eq 0 ]
}
