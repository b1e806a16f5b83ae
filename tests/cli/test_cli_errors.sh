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
expect_err "usage error" "" "$BIN" train --factors notanumber --data synthetic
finish
