#!/usr/bin/env bash
# Installs the Debian packages cprec-repro needs, only those missing. Idempotent; says what it did.
set -euo pipefail

# OpenBLAS (pthread variant: the OpenMP one is ~20x slower on small GEMMs), gnuplot for figures,
# libcrypto for SHA-256, curl for downloads, python3 for the local HTTP server used in tests.
packages=(libopenblas-dev libopenblas0-pthread gnuplot-nox libssl-dev curl unzip python3)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all system packages present (${packages[*]})" >&2
else
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "bootstrap: installed ${missing[*]}" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "bootstrap: swift is not on PATH; install Swift 6.x (https://www.swift.org/install/linux/) and rerun" >&2
  exit 1
fi
