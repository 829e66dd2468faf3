#!/usr/bin/env bash
# Packs what scripts/device-run.sh needs on a lent GPU machine into
# .device-kit/ (ignored by git; the device tool carries it): the machine
# starts bare, without Node, and takes a working tree of at most 64 MiB.
#
#   node.xz          this machine's Node binary (95 MB, about 25 MB packed)
#   app.tar.xz       the built CLI (dist/cli, bin/, package.json) and the
#                    modules it loads at run time: webgpu (Dawn, linux-x64
#                    only) and @stdlib
#   *.deb            the Vulkan loader (libvulkan1), which Dawn opens to
#                    reach the machine's NVIDIA driver
#
#   bash scripts/device-kit.sh     # then run scripts/device-run.sh there, carrying .device-kit
set -euo pipefail
cd "$(dirname "$0")/.."
kit=.device-kit
rm -rf "$kit" && mkdir -p "$kit"
npm run -s build:cli
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$kit/node.xz"
tar -cJf "$kit/app.tar.xz" --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' dist/cli bin package.json node_modules/webgpu node_modules/@stdlib
(cd "$kit" && apt-get download -q libvulkan1 >/dev/null 2>&1) || { echo "apt-get download libvulkan1 failed"; exit 1; }
du -sh "$kit"/*
