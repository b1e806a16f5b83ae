#!/usr/bin/env bash
# Bad input on the command line: non-zero exit and one line naming file, line and field.
source "$(dirname "$0")/lib.sh"

printf '1\t2\t5\t100\n1\t3\tabc\t101\n' > bad.data
expect_err "strict bad rating" "bad\.data:2.*rating" "$BIN" train --data bad.data --format ml100k --strict --out m.edgerec
[ "$(wc -l < err.txt)" -eq 1 ] || fail "error is not one line: $(cat err.txt)"
[ -e m.edgerec ] && fail "a failed train left a model file"
expect_err "missing file" "nope\.csv" "$BIN" train --data nope.csv --out m.edgerec
: > empty.csv
expect_err "empty file" "empty\.csv" "$BIN" train --data empty.csv --out m.edgerec
head -c 4096 /dev/urandom > noise.bin
expect_err "binary noise" "noise\.bin" "$BIN" train --data noise.bin --out m.edgerec
expect_err "unknown model kind" "unknown model 'nope'" "$BIN" train --data synthetic --model nope --out m.edgerec
expect_err "model file missing" "missing\.edgerec" "$BIN" recommend --model missing.edgerec --user 1
head -c 1000 /dev/urandom > garbage.edgerec
expect_err "garbage model" "garbage\.edgerec.*(magic|edgerec)" "$BIN" info --model garbage.edgerec

"$BIN" generate --out syn --users 100 --items 80 --interactions 2000 >/dev/null
"$BIN" train --data syn/ratings.csv --model popularity --out good.edgerec --quiet >/dev/null
cp good.edgerec keep.edgerec
head -c 200 good.edgerec > trunc.edgerec
expect_err "truncated model" "trunc\.edgerec.*trunc" "$BIN" info --model trunc.edgerec
expect_err "unknown user" "unknown user id 'nobody'" "$BIN" recommend --model good.edgerec --user nobody
expect_err "unknown item" "unknown item id 'nothing'" "$BIN" similar --model good.edgerec --item nothing
# A failed save keeps the previous model: training on bad data must not touch good.edgerec.
expect_err "failed train keeps old model" "bad\.data" "$BIN" train --data bad.data --format ml100k --strict --out good.edgerec
cmp -s good.edgerec keep.edgerec || fail "failed train changed the previous model"

# Usage errors: one line "edgerec: error: ..." and exit status 2, whatever CLI11 found.
usage() {
  local d=$1 pat=$2; shift 2
  "$@" >out.txt 2>err.txt && { fail "$d: expected exit 2, got 0"; return; }
  local rc=$?
  [ "$rc" -eq 2 ] || { fail "$d: exit $rc, expected 2: $(head -c 300 err.txt)"; return; }
  [ "$(wc -l < err.txt)" -eq 1 ] || { fail "$d: not one line: $(cat err.txt)"; return; }
  grep -qE "^edgerec: error: .*$pat" err.txt || { fail "$d: stderr does not match /$pat/: $(cat err.txt)"; return; }
  ok
}
usage "not a number" "--factors.*notanumber.*see 'edgerec train --help'" "$BIN" train --factors notanumber --data synthetic
usage "unknown flag" "--no-such-flag" "$BIN" train --data synthetic --no-such-flag
usage "missing required flag" "--data.*required" "$BIN" train
usage "no subcommand" "subcommand.*see 'edgerec --help'" "$BIN"
usage "unknown subcommand" "frobnicate" "$BIN" frobnicate
usage "flag without value" "--model" "$BIN" info --model
usage "k out of range" "-k|--k" "$BIN" recommend --model good.edgerec --user 1 -k -3
expect_ok "--help still exits 0" "$BIN" train --help
expect_ok "--version still exits 0" "$BIN" --version

# Seeds: decimal integers in [0, 2^64-1]; "-1" used to wrap to 2^64-1 and "010" to be octal.
usage "negative seed" "seed '-1' is not an integer" "$BIN" train --data synthetic --model popularity --seed -1 --out s.edgerec
usage "non-numeric seed" "seed 'abc' is not an integer" "$BIN" train --data synthetic --model popularity --seed abc --out s.edgerec
usage "seed over 2^64" "seed '18446744073709551616'" "$BIN" train --data synthetic --model popularity --seed 18446744073709551616 --out s.edgerec
usage "hex seed" "seed '0x10'" "$BIN" train --data synthetic --model popularity --seed 0x10 --out s.edgerec
usage "negative generate seed" "seed '-5'" "$BIN" generate --out g --seed -5
usage "negative split seed" "seed '-2'" "$BIN" eval --data synthetic --model popularity --split-seed -2
[ -e s.edgerec ] && fail "a refused seed still wrote a model"
expect_ok "largest seed" "$BIN" train --data syn/ratings.csv --model svd --epochs 1 --seed 18446744073709551615 --out s.edgerec --json
[ "$(json_get out.txt 'j["hyper"]["seed"]')" = 18446744073709551615 ] || fail "largest seed not kept"
expect_ok "leading zeros are decimal" "$BIN" train --data syn/ratings.csv --model svd --epochs 1 --seed 010 --out s.edgerec --json
[ "$(json_get out.txt 'j["hyper"]["seed"]')" = 10 ] || fail "--seed 010 is not 10"

# Threads: 0 (all cores) to 1024; libgomp crashed at 65536, and a count over the reader's
# limit saved a model nothing could load.
usage "65536 threads" "--threads.*65536" "$BIN" train --data synthetic --model popularity --threads 65536 --out t.edgerec
usage "70000 threads" "--threads.*70000" "$BIN" train --data synthetic --model popularity --threads 70000 --out t.edgerec
usage "negative threads" "--threads" "$BIN" eval --data synthetic --model popularity --threads -1
[ -e t.edgerec ] && fail "a refused thread count still wrote a model"
OMP_NUM_THREADS=70000 expect_err "OMP_NUM_THREADS too high" "^edgerec: error: OMP_NUM_THREADS asks for 70000 threads, more than the 1024" \
  "$BIN" train --data syn/ratings.csv --model popularity --out t.edgerec
[ "$(wc -l < err.txt)" -eq 1 ] || fail "OMP_NUM_THREADS error is not one line: $(cat err.txt)"
OMP_NUM_THREADS=70000 expect_ok "an explicit --threads wins over OMP_NUM_THREADS" \
  "$BIN" train --data syn/ratings.csv --model popularity --threads 2 --out t.edgerec --json
expect_ok "1024 threads" "$BIN" train --data syn/ratings.csv --model popularity --threads 1024 --out t.edgerec --json
expect_ok "1024 threads load back" "$BIN" info --model t.edgerec --json
[ "$(json_get out.txt 'j["threads"]')" = 1024 ] || fail "threads not stored"

# Data files are never read without end: devices are refused before reading.
expect_err "--data /dev/zero" "^edgerec: error: /dev/zero: cannot read: not a regular file or a pipe" \
  "$BIN" train --data /dev/zero --out z.edgerec
expect_err "--data a directory" "syn: cannot read: it is a directory" "$BIN" train --data syn --out z.edgerec
# A pipe is still read (up to the limit): process substitution works.
expect_ok "--data from a pipe" "$BIN" train --data <(cat syn/ratings.csv) --format csv --header --model popularity --out z.edgerec

# --duplicates sum: finite ratings that add up to infinity are an error, not an inf rating.
printf '1,10,3e38\n1,10,3e38\n2,10,1\n' > big.csv
expect_err "duplicates sum overflow" "big\.csv: duplicate policy 'sum': the values of user '1' for item '10' add up to more than a float holds" \
  "$BIN" train --data big.csv --duplicates sum --max-rating 3.4e38 --model popularity --out big.edgerec
[ -e big.edgerec ] && fail "an overflowing sum still wrote a model"

# A save removes the temporary files that killed saves left (pid not running, idle over a
# minute), never another running save's, another target's or a file not named like ours.
: > good.edgerec.tmp-4194305-0123456789abcdef && touch -d '5 minutes ago' good.edgerec.tmp-4194305-0123456789abcdef
: > good.edgerec.tmp-4194305-00000000000000aa
: > good.edgerec.tmp-$$-00000000000000bb && touch -d '5 minutes ago' good.edgerec.tmp-$$-00000000000000bb
: > keep.edgerec.tmp-4194305-0123456789abcdef && touch -d '5 minutes ago' keep.edgerec.tmp-4194305-0123456789abcdef
: > good.edgerec.tmp-notours && touch -d '3 days ago' good.edgerec.tmp-notours
expect_ok "save over stale temporaries" "$BIN" train --data syn/ratings.csv --model popularity --out good.edgerec --quiet
[ -e good.edgerec.tmp-4194305-0123456789abcdef ] && fail "a killed save's temporary file was not removed"
for f in good.edgerec.tmp-4194305-00000000000000aa good.edgerec.tmp-$$-00000000000000bb \
         keep.edgerec.tmp-4194305-0123456789abcdef good.edgerec.tmp-notours; do
  [ -e "$f" ] || fail "$f was removed"
done
# A save really killed mid-way: SIGXFSZ (a 1 KiB file size limit, default action: die, like
# SIGKILL) stops it while it writes its temporary file. The previous model survives, and the
# next save removes the leftover once its writer is gone and a minute has passed.
rm -f good.edgerec.tmp-*
cp good.edgerec keep.edgerec
# (The outer subshell reports the death, quietly; the inner one becomes edgerec.)
( ( ulimit -f 1; exec "$BIN" train --data syn/ratings.csv --model svd --factors 16 --out good.edgerec --quiet ); exit $? ) >/dev/null 2>&1 &&
  fail "the size-limited save did not die"
ls good.edgerec.tmp-* >/dev/null 2>&1 || fail "the killed save left no temporary file (the test did not kill it mid-write)"
cmp -s good.edgerec keep.edgerec || fail "a killed save changed the previous model"
for f in good.edgerec.tmp-*; do [ -e "$f" ] && touch -d '2 minutes ago' "$f"; done
expect_ok "save after a killed save" "$BIN" train --data syn/ratings.csv --model popularity --out good.edgerec --quiet
ls good.edgerec.tmp-* >/dev/null 2>&1 && fail "temporary files left after the next save: $(ls good.edgerec.tmp-*)"

# export-onnx --user-vectors writes its JSON atomically: a write that fails midway (a 100 KiB
# file size limit, like a full disk) keeps the previous JSON whole and leaves no temporary file.
"$BIN" generate --out many --users 3000 --items 40 --interactions 30000 --seed 4 >/dev/null
"$BIN" train --data many/ratings.csv --model svd --factors 32 --epochs 1 --out many.edgerec --quiet >/dev/null
expect_ok "export-onnx --user-vectors" "$BIN" export-onnx --model many.edgerec --out many.onnx --user-vectors uv.json
[ "$(stat -c %s uv.json)" -gt 200000 ] || fail "uv.json is too small for the size-limit test"
cp uv.json uv.keep
( trap '' XFSZ; ulimit -f 100; exec "$BIN" export-onnx --model many.edgerec --out many.onnx --user-vectors uv.json ) \
  >/dev/null 2>err.txt && fail "export-onnx under a 100 KiB file size limit succeeded"
grep -q "^edgerec: error: cannot write 'uv.json'" err.txt || fail "user vectors write error: $(cat err.txt)"
cmp -s uv.json uv.keep || fail "a failed --user-vectors write damaged the previous file"
ls uv.json.tmp-* >/dev/null 2>&1 && fail "a failed --user-vectors write left a temporary file"
finish
