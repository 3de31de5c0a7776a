#!/usr/bin/env bash
# Regenerates libs/proto/src/gen from proto/ with Debian's protoc and the ts-proto plugin.
# The output is committed so that `npm ci` alone gives a working tree; CI re-runs this and fails on drift.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler" >&2; exit 1; }
out=libs/proto/src/gen
rm -rf "$out"
mkdir -p "$out"
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,env=node,forceLong=number,importSuffix=,useDate=false \
  -I proto proto/laneway/v1/*.proto
