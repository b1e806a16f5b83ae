#!/usr/bin/env bash
# The objects compiled with ISA flags (-mavx2, -mavx512f: the GEMM flavours) may define, outside
# their own namespaces, no symbol that other objects could also define: the linker keeps one copy
# of a weak (inline, template) symbol, and if it kept the AVX one, a CPU without AVX would crash
# in baseline code. Local symbols are private to the object and fine.
# Usage: isa_symbols.sh OBJECT...
set -euo pipefail
[ $# -gt 0 ] || { echo "no ISA objects in this build (not x86-64)"; exit 0; }
status=0
for obj in "$@"; do
  [ -f "$obj" ] || { echo "missing object: $obj"; exit 1; }
  isa=$(basename "$obj" | sed -E 's/^gemm_([a-z0-9]+)_native.*/\1/')
  # Global and weak definitions (upper-case types, plus the weak v/w/u), minus the file's own
  # namespaces and the exception personality reference (data, the same in every object).
  bad=$(nm --defined-only "$obj" | awk '$2 ~ /^[A-Zuvw]$/ {print $3}' |
        grep -v -e "edgerec_eigen_${isa}" -e "gemm_${isa}" -e '^DW\.ref\.__gxx_personality_v0$' || true)
  if [ -n "$bad" ]; then
    echo "$obj defines symbols baseline objects may share:"
    echo "$bad" | c++filt | head -20
    status=1
  else
    echo "$obj: $(nm --defined-only "$obj" | awk '$2 ~ /^[A-Zuvw]$/' | wc -l) exported symbols, all its own"
  fi
done
exit $status
