#!/usr/bin/env bash
# gen.sh regenerates the Go code of the connector protocol
# (plugins/internal/connectorpb) from connector.proto beside this script, and
# that of the benchmark baseline (plugins/internal/connectorpb/benchpb) from
# bench.proto,
# with pinned generator versions, so that the same input always gives the
# same bytes. `make proto` and `go generate ./plugins/...` run it; the test
# plugins/internal/connectorpb/gen_test.go runs it into a temporary folder
# and proves the committed files are current.
#
# Usage: gen.sh [OUT_ROOT]
#   OUT_ROOT defaults to the module root; the files land in
#   OUT_ROOT/plugins/internal/connectorpb (and its benchpb).
#
# Needs protoc (exactly PROTOC_VERSION; set PROTOC to use another binary)
# and the go command. The generators are installed once with `go install`
# into a per-version cache folder (USMHUB_PROTOC_GEN_CACHE overrides it).
set -euo pipefail

PROTOC_VERSION=3.21.12
PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf, as in go.mod
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1   # google.golang.org/grpc/cmd/protoc-gen-go-grpc
MODULE=github.com/usmhub/usmhub

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root}
protoc=${PROTOC:-protoc}

if ! command -v "$protoc" >/dev/null 2>&1; then
	echo "gen.sh: protoc not found (install protoc $PROTOC_VERSION, e.g. apt-get install protobuf-compiler)" >&2
	exit 3
fi
have=$("$protoc" --version)
if [ "$have" != "libprotoc $PROTOC_VERSION" ]; then
	echo "gen.sh: $protoc is '$have'; the committed code is generated with libprotoc $PROTOC_VERSION" >&2
	exit 4
fi

cache=${USMHUB_PROTOC_GEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/usmhub/protoc-gen}
gen_go=$cache/protoc-gen-go-$PROTOC_GEN_GO_VERSION
gen_grpc=$cache/protoc-gen-go-grpc-$PROTOC_GEN_GO_GRPC_VERSION
install() { # install DIR PACKAGE@VERSION
	if [ ! -x "$1/$(basename "${2%@*}")" ]; then
		mkdir -p "$1"
		# Outside the module, so that go.mod neither constrains nor records it.
		(cd "$cache" && GOBIN="$1" GOFLAGS= go install "$2")
	fi
}
mkdir -p "$cache"
install "$gen_go" "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
install "$gen_grpc" "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"

mkdir -p "$out"
cd "$here"
"$protoc" -I . \
	--plugin=protoc-gen-go="$gen_go/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$gen_grpc/protoc-gen-go-grpc" \
	--go_out="$out" --go_opt=module="$MODULE" \
	--go-grpc_out="$out" --go-grpc_opt=module="$MODULE" \
	connector.proto bench.proto
