#!/usr/bin/env bash
# Builds the static demo (web/demo/) into a folder that any static host serves as it is: the
# page, the edgerec package (web/src + web/dist) and a model file that carries the catalogue's
# titles and genres (train --item-meta; the page reads them from the model). No server code;
# once loaded, the page sends nothing anywhere.
#
#   tools/build-demo.sh [--out DIR]                     synthetic catalogue (the default)
#   tools/build-demo.sh --movielens PATH [--out DIR]    MovieLens you downloaded yourself:
#        PATH is the ml-100k folder (u.data + u.item) or the ml-1m folder (ratings.dat + movies.dat)
#   tools/build-demo.sh --model M.edgerec --items items.csv [--out DIR]
#        an existing model and `edgerec generate`'s items.csv (the benchmark's 100k-item demo);
#        a model without item metadata gets catalogue.json beside it (tools/demo-catalogue.mjs)
#
# Other options: --edgerec PATH (the CLI; default $EDGEREC or build/bin/edgerec),
# --model-kind KIND (default ials), --factors N (default: 32 for the synthetic catalogue, where
# more factors score no better, else the kind's MovieLens-tuned default), --seed N,
# --f32-items (ship the item matrix as f32; by default the demo's model file stores it as int8
# codes, `edgerec strip --int8`: a quarter of the bytes to download, scores within 0.4% of an
# item's largest factor).
# MovieLens may not be redistributed (GroupLens terms): a demo built from it is for your own
# machine. Never commit or publish that folder.
#
# Serve it locally with `node tools/serve-static.mjs build/demo` and open the printed URL.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

out=$root/build/demo
movielens=""
model=""
items=""
kind=ials
factors=""
seed=42
strip_args=(--int8)
cli=${EDGEREC:-$root/build/bin/edgerec}

die() { echo "build-demo: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --movielens) movielens=${2:?--movielens needs a folder}; shift 2 ;;
    --model) model=${2:?--model needs a file}; shift 2 ;;
    --items) items=${2:?--items needs a file}; shift 2 ;;
    --edgerec) cli=${2:?--edgerec needs a path}; shift 2 ;;
    --model-kind) kind=${2:?--model-kind needs a kind}; shift 2 ;;
    --factors) factors=${2:?--factors needs a number}; shift 2 ;;
    --seed) seed=${2:?--seed needs a number}; shift 2 ;;
    --f32-items) strip_args=(); shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
# Paths are the caller's (under `npm run build:demo --prefix web`, npm's INIT_CWD, not web/);
# the rest of the script runs from the repository root.
base=$PWD
[ -z "${npm_lifecycle_event:-}" ] || [ -z "${INIT_CWD:-}" ] || base=$INIT_CWD
abspath() { case "$1" in /*|"") printf '%s' "$1" ;; *) printf '%s/%s' "$base" "$1" ;; esac; }
out=$(abspath "$out"); movielens=$(abspath "$movielens"); model=$(abspath "$model")
items=$(abspath "$items"); case "$cli" in */*) cli=$(abspath "$cli") ;; esac
cd "$root"
[ -z "$model" ] || [ -n "$items" ] || die "--model needs --items (the catalogue's items.csv)"
[ -z "$model" ] || [ -z "$movielens" ] || die "give either --model or --movielens, not both"
[ -z "$model" ] || [ -f "$model" ] || die "$model: no such model file"
[ -z "$items" ] || [ -f "$items" ] || die "$items: no such file"

# The package: web/dist is built by `npm run build --prefix web` (the wasm flavours).
if [ ! -f web/src/index.js ] || [ ! -d web/dist ]; then
  die "the edgerec package is not built (web/src/index.js, web/dist): run 'npm run build --prefix web' first"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hyper=(--seed "$seed")
[ -z "$factors" ] || hyper+=(--factors "$factors")

need_cli() {
  [ -x "$cli" ] || die "$cli: the edgerec CLI is missing (build it with tools/build.sh, or pass --edgerec / set EDGEREC)"
}

# The old demo is replaced as a whole: never remove a folder that is not one.
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && \
   [ ! -f "$out/model.edgerec" ]; then
  die "$out exists and is not a demo folder: choose another --out"
fi

# Build into a fresh folder beside the target, then swap, so a failed build never leaves a
# half-written demo and the model always matches its catalogue.
mkdir -p "$(dirname "$out")"
stage="$out.tmp.$$"
rm -rf "$stage"
mkdir -p "$stage/edgerec"
trap 'rm -rf "$tmp" "$stage"' EXIT

if [ -n "$model" ]; then
  need_cli
  cp "$model" "$stage/model.edgerec"
  "$cli" info --model "$stage/model.edgerec" --json | grep -q '"item_meta"' ||
    node tools/demo-catalogue.mjs --synthetic "$items" --source "synthetic" --out "$stage/catalogue.json"
elif [ -n "$movielens" ]; then
  need_cli
  [ -d "$movielens" ] || die "$movielens: not a folder"
  if [ -f "$movielens/u.data" ] && [ -f "$movielens/u.item" ]; then
    ratings="$movielens/u.data"
    meta="$movielens/u.item"
  elif [ -f "$movielens/ratings.dat" ] && [ -f "$movielens/movies.dat" ]; then
    ratings="$movielens/ratings.dat"
    meta="$movielens/movies.dat"
  else
    die "$movielens: expected ml-100k (u.data, u.item) or ml-1m (ratings.dat, movies.dat)"
  fi
  "$cli" train --data "$ratings" --model "$kind" "${hyper[@]}" --item-meta "$meta" \
    --out "$stage/model.edgerec" --quiet >/dev/null
else
  need_cli
  [ -n "$factors" ] || hyper+=(--factors 32)
  "$cli" generate --out "$tmp/data" --seed "$seed" >/dev/null
  "$cli" train --data "$tmp/data/ratings.csv" --model "$kind" "${hyper[@]}" \
    --item-meta "$tmp/data/items.csv" --out "$stage/model.edgerec" --quiet >/dev/null
fi
# The visitor is always a new user: ship only the item side (no user vectors, seen items or
# user ids), about half the bytes to download and parse before the first recommendation, and
# (unless --f32-items) the item matrix as int8 codes, a quarter of what is left.
need_cli
# itemknn has no item matrix to quantise.
"$cli" info --model "$stage/model.edgerec" --json | grep -q '"item_matrix"' || strip_args=()
"$cli" strip --model "$stage/model.edgerec" --out "$stage/model.edgerec" "${strip_args[@]}" >/dev/null

cp -R web/src "$stage/edgerec/src"
# The Node entry (src/node/) is never loaded by a page.
rm -rf "$stage/edgerec/src/node"
mkdir -p "$stage/edgerec/dist"
# The default flavour only: the single-file one (for webviews) is not needed on a web host.
find web/dist -maxdepth 1 -type f ! -name 'edgerec.single.js' -exec cp {} "$stage/edgerec/dist/" \;
[ ! -f web/package.json ] || cp web/package.json "$stage/edgerec/package.json"
cp web/demo/*.css web/demo/*.js "$stage/"
# The page's static module graph, listed as modulepreload links so the browser fetches it in one
# round instead of one level of imports at a time.
node - "$stage" > "$stage/index.html" <<'EOF'
const fs = require('fs'), path = require('path');
const root = process.argv[2];
const seen = new Set();
const visit = (rel) => {
  if (seen.has(rel)) return;
  seen.add(rel);
  const text = fs.readFileSync(path.join(root, rel), 'utf8');
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    visit(path.posix.normalize(path.posix.join(path.posix.dirname(rel), m[1])));
  }
};
visit('demo.js');
const links = [...seen].map((f) => `<link rel="modulepreload" href="${f}">`).join('\n');
const html = fs.readFileSync('web/demo/index.html', 'utf8');
if (!html.includes('<!-- modulepreload -->')) throw new Error('web/demo/index.html: no modulepreload marker');
process.stdout.write(html.replace('<!-- modulepreload -->', links));
EOF

rm -rf "$out"
mv "$stage" "$out"
trap 'rm -rf "$tmp"' EXIT
echo "demo built in $out ($(du -sh "$out" | cut -f1)); serve it with: node tools/serve-static.mjs $out"
