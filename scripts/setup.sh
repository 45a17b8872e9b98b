#!/usr/bin/env bash
# Installs what mlpack's build, demo and tests need on a Debian machine, and nothing that is
# already there: C libraries (with pkg-config, through which SwiftPM finds them), the outside
# tools the interop tests and benchmarks run, and the demo's Python packages.
set -euo pipefail

# libcurl4-openssl-dev: s3:// requests (Sources/CCurl), and a release build links Foundation's
# networking statically (bench/common.sh).
# graphviz lays out the HTML report's lineage graph; chromium renders the reports in the tests.
apt_packages=(pkg-config libarchive-dev libzstd-dev libsodium-dev libcurl4-openssl-dev zstd libarchive-tools minisign bubblewrap time git python3 strace bc openssl graphviz chromium)
python3 -m pip --version >/dev/null 2>&1 || apt_packages+=(python3-pip)

missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# moto[server]: the S3 protocol server the object-store tests start on loopback (5.2.1
# refuses signatures of keys with non-ASCII letters).
python_packages=(numpy safetensors bagit jsonschema roc-validator==0.13.0 "moto[server]>=5.2.6")
if ! python3 -c 'import numpy, safetensors, bagit, jsonschema, rocrate_validator, moto.server, importlib.metadata as m
assert tuple(map(int, m.version("moto").split(".")[:3])) >= (5, 2, 6)' 2>/dev/null; then
    echo "setup: installing Python packages ${python_packages[*]}"
    python3 -m pip install -q "${python_packages[@]}" 2>/dev/null \
        || python3 -m pip install -q --break-system-packages "${python_packages[@]}"
fi

# uv builds a pack's Python environment for `verify --rebuild` (and `mlpack env build`).
if ! command -v uv >/dev/null; then
    echo "setup: installing uv"
    python3 -m pip install -q uv 2>/dev/null || python3 -m pip install -q --break-system-packages uv
fi

command -v swift >/dev/null || { echo "setup: Swift 6 is needed (https://www.swift.org/install/linux/)" >&2; exit 1; }
