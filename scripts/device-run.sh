#!/usr/bin/env bash
# The one prepared run on a lent GPU machine (issue 27: "the ladder and the
# tuner run there first, as one prepared script"). Needs .device-kit/ from
# scripts/device-kit.sh, carried; writes its reports under $OUT (at most 8
# files come back): info.md (adapter, limits, ceilings), ladder.md and
# ladder.json (every version, six shapes: the JSON imports into the page's
# Ladder view beside other devices), tune.md (the pruned search, 40 s of it,
# for three shapes, the memory-bound one included), exhaustive.md (the
# exhaustive search of the full space for V3.2 FP8, 100 s of it: on a GPU,
# whose compiles take a fraction of a second, it may reach its end),
# profile.json (the device profile) and log.txt (everything printed).
#
#   device run, carry [".device-kit"]:  bash scripts/device-run.sh
#
# Each step has a time limit of its own (550 s in all) so that the whole fits
# one call of ten minutes; a search's budget leaves room in its limit for
# its final rounds, so it still reports; a step cut short says so in
# log.txt and the next one runs.
# MLA_ADAPTER picks the adapter (default native: the machine's own driver);
# DEVICE_RUN_QUICK=1 runs small shapes, to try the script on a software
# adapter here (MLA_ADAPTER=llvmpipe).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kit=$repo/.device-kit
out=${OUT:-$repo/device-out}
app=/tmp/mla-app
mkdir -p "$out" "$app"
exec > >(tee -a "$out/log.txt") 2>&1
[ -f "$kit/node.xz" ] || { echo "no $kit/node.xz: run scripts/device-kit.sh here first and carry .device-kit"; exit 2; }
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in "$kit"/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
xz -dc "$kit/node.xz" > "$app/node" && chmod +x "$app/node"
tar -xJf "$kit/app.tar.xz" -C "$app"
export MLA_ADAPTER=${MLA_ADAPTER:-native} XDG_CACHE_HOME=$app/cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || true

if [ "${DEVICE_RUN_QUICK:-0}" = 1 ]; then
  ladder=(--presets v32 --kv fp8 --seqlens 512 --heads 16 --matmul-blocks 8)
  shapes=("--preset v32 --kv fp8 --h-q 16 --seqlen 512")
  narrow=(--kernels matmuls --score-blocks 8x8,16x8 --out-blocks 8x16)
else
  ladder=(--presets v32,model1 --kv f32,bf16,fp8 --seqlens 4096 --heads 64)
  shapes=("--preset v32 --kv fp8" "--preset model1 --kv bf16" "--preset v32 --kv fp8 --h-q 16 --seqlen 65536")
  narrow=()
fi
cli=("$app/node" "$app/bin/mla-sandbox.js")
step() { # seconds, name, stdout file (or -), mla-sandbox's arguments...
  local limit=$1 name=$2 to=$3; shift 3
  echo "== $name ($(date -u +%T), limit ${limit} s): mla-sandbox $*"
  if [ "$to" = - ]; then timeout "$limit" "${cli[@]}" "$@"; else timeout "$limit" "${cli[@]}" "$@" > "$to"; fi
  local rc=$?
  [ $rc -eq 124 ] && echo "== $name: stopped at its limit of ${limit} s"
  echo "== $name: exit $rc ($(date -u +%T))"
}

step 60 info "$out/info.md" info
step 120 ladder - bench --ladder "${ladder[@]}" --out "$out/ladder.md" --json-out "$out/ladder.json"
: > "$out/tune.md"
for s in "${shapes[@]}"; do
  # shellcheck disable=SC2086  # a shape's flags are words
  step 80 "tune $s" - bench --tune $s --budget 40 "${narrow[@]}" --profile "$out/profile.json" --out "$app/tune-one.md"
  cat "$app/tune-one.md" >> "$out/tune.md" 2>/dev/null
done
step 130 "exhaustive, full space" - bench --tune --exhaustive --preset v32 --kv fp8 --budget 100 "${narrow[@]}" --profile "$app/exhaustive-profile.json" --out "$out/exhaustive.md"
ls -la "$out"
