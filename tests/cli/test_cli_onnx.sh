#!/usr/bin/env bash
# export-onnx end to end: every embedding kind exports a graph that ONNX's checker accepts and
# that onnxruntime-node ranks exactly as `edgerec recommend` does (ids, scores within 1e-4),
# with and without the user's seen items, for single users and a batch; itemknn is refused.
# Needs Debian's python3-onnx and web/node_modules (npm ci --prefix web); skips (77) without.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
WEB=$HERE/../../web

if ! /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  echo "SKIPPED: python3-onnx is not installed (apt-get install python3-onnx)"; exit 77
fi
if ! command -v node >/dev/null || [ ! -d "$WEB/node_modules/onnxruntime-node" ]; then
  echo "SKIPPED: onnxruntime-node is not installed (ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix web)"; exit 77
fi

expect_ok "export-onnx --help" "$BIN" export-onnx --help
grep -q -- "--user-vectors" out.txt || fail "export-onnx --help lists no --user-vectors"

"$BIN" generate --out syn --users 150 --items 120 --interactions 5000 --seed 5 --json >/dev/null
"$BIN" generate --out imp --users 150 --items 120 --interactions 5000 --seed 6 --implicit --json >/dev/null
users=$(awk -F, 'NR>1 {print $1}' syn/ratings.csv | sort -u | head -4)

K=8
for spec in popularity:syn mean-baseline:syn baseline:syn svd:syn svdpp:syn ials:imp bpr:imp; do
  m=${spec%%:*}
  data=${spec##*:}
  "$BIN" train --data $data/ratings.csv --model $m --epochs 4 --factors 6 --seed 2 --out $m.edgerec --quiet >/dev/null
  expect_ok "export-onnx $m" "$BIN" export-onnx --model $m.edgerec --out $m.onnx --item-ids --user-vectors $m.users.json --json
  [ "$(json_get out.txt 'j["model"] == "'$m'" and j["bytes"] > 0')" = True ] || fail "export-onnx $m json"
  [ "$(json_get out.txt 'j["bytes"]')" = "$(stat -c %s $m.onnx)" ] || fail "export-onnx $m: bytes differ from the file size"
  ls $m.onnx.tmp-* >/dev/null 2>&1 && fail "export-onnx $m left a temporary file"
  # The checker with full shape inference, and the graph's declared layout and metadata.
  expect_ok "check_model $m" /usr/bin/python3 - $m.onnx exp-$m <<'EOF'
import json, os, sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
meta = {p.key: p.value for p in m.metadata_props}
g = m.graph
assert m.ir_version == 8 and m.opset_import[0].version == 13, (m.ir_version, m.opset_import)
assert [n.op_type for n in g.node][0] == "MatMul" and g.node[-1].op_type == "TopK", [n.op_type for n in g.node]
assert ("Add" in [n.op_type for n in g.node]) == (meta["edgerec.has_offset"] == "1")
mat = [t for t in g.initializer if t.name == "item_matrix"][0]
assert list(mat.dims) == [int(meta["edgerec.dims"]), int(meta["edgerec.items"])], mat.dims
assert [o.name for o in g.output] == ["scores", "indices"]
ids = meta["edgerec.item_ids"].split("\n")[:-1]
assert len(ids) == int(meta["edgerec.items"])
import zlib
assert "%08x" % zlib.crc32("".join(i + "\n" for i in ids).encode()) == meta["edgerec.item_ids_crc32"]
os.makedirs(sys.argv[2], exist_ok=True)
json.dump(ids, open(os.path.join(sys.argv[2], "items.json"), "w"))
EOF
  for u in $users; do
    "$BIN" recommend --model $m.edgerec --user "$u" -k $K --include-seen --json > exp-$m/$u.all.json || fail "recommend $m $u"
    "$BIN" recommend --model $m.edgerec --user "$u" -k $K --json > exp-$m/$u.new.json || fail "recommend $m $u"
  done
  range=""
  case $m in mean-baseline|baseline|svd|svdpp) range=$(awk -F, 'NR > 1 {if (n++ == 0 || $3 < lo) lo = $3; if ($3 > hi) hi = $3} END {print lo "," hi}' $data/ratings.csv) ;; esac
  if node "$HERE/onnx_check.mjs" $m.onnx $m.users.json $data/ratings.csv exp-$m $K $range >check.txt 2>&1; then ok
  else fail "onnxruntime-node vs recommend, $m: $(grep -v '^[0-9]* passed' check.txt | head -c 600)"; fi
done

# Without --item-ids the ids stay out of the file (a 100k catalogue would add a megabyte).
"$BIN" export-onnx --model svd.edgerec --out small.onnx >/dev/null
[ "$(/usr/bin/python3 -c "import onnx; print('edgerec.item_ids' in {p.key for p in onnx.load('small.onnx').metadata_props})")" = False ] \
  || fail "item ids stored without --item-ids"
# Same model, same bytes.
"$BIN" export-onnx --model svd.edgerec --out small2.onnx >/dev/null
cmp -s small.onnx small2.onnx || fail "two exports of one model differ"

# Errors: one line naming the problem, nothing written.
"$BIN" train --data syn/ratings.csv --model itemknn --out itemknn.edgerec --quiet >/dev/null
expect_err "itemknn refused" "itemknn models have no factor form" "$BIN" export-onnx --model itemknn.edgerec --out knn.onnx
[ -e knn.onnx ] && fail "itemknn export wrote a file"
expect_err "missing model" "cannot open model file 'nope.edgerec'" "$BIN" export-onnx --model nope.edgerec --out x.onnx
expect_err "bad output dir" "cannot write 'no/such/dir/x.onnx'" "$BIN" export-onnx --model svd.edgerec --out no/such/dir/x.onnx
expect_err "--out required" "out is required" "$BIN" export-onnx --model svd.edgerec
head -c 100 svd.edgerec > broken.edgerec
expect_err "truncated model" "broken.edgerec" "$BIN" export-onnx --model broken.edgerec --out b.onnx
[ -e b.onnx ] && fail "a broken model wrote an ONNX file"

finish
