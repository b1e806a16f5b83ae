#!/usr/bin/env bash
# Installs the Debian 12 packages edgerec needs, only those that are missing.
# Usage: tools/install-deps.sh [--web]   (as root, or with sudo available)
#   default: what the native build needs;  --web: also what the wasm build and the
#   JavaScript/browser tests need (Emscripten, wabt, Node + npm, Chromium, python3-onnx), and
#   the fuzz targets (clang with its sanitizer and libFuzzer runtimes).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libeigen3-dev libcereal-dev catch2 libcli11-dev
      nlohmann-json3-dev libbenchmark-dev python3)
if [ "${1:-}" = "--web" ]; then
  pkgs+=(emscripten wabt chromium python3-onnx clang libclang-rt-dev)
  # Node may come from another apt source (with npm inside); add Debian's only when absent.
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
