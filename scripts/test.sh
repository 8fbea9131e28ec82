#!/usr/bin/env bash
# The project's whole test suite, as README.md gives it and CI runs it:
# installs what the tests need from Debian when missing (containerd, runc,
# CNI plugins; PostgreSQL and Redis for the integration tests), then checks
# formatting, vet and lint, runs every test under the race detector, and
# runs each fuzz target for a short, bounded time.
#
#   ./scripts/test.sh            # everything
#   FUZZTIME=0 ./scripts/test.sh # skip the fuzz runs
set -euo pipefail
cd "$(dirname "$0")/.."

export CI="${CI:-true}"
FUZZTIME="${FUZZTIME:-20s}"

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
if [[ $(id -u) -eq 0 ]]; then
	./scripts/install-container-deps.sh
	./scripts/install-integration-deps.sh
else
	echo "not root: skipping apt installs (containers and integrations need them under CI=true)"
fi
go version

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [[ -n "$unformatted" ]]; then
	echo "gofmt needed:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck (config: staticcheck.conf)"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "go test -race"
go test -race -count=1 -timeout 30m ./...

if [[ "$FUZZTIME" != "0" ]]; then
	step "fuzz (each target for $FUZZTIME)"
	for target in $(go test -list '^Fuzz' ./pkg/... | grep '^Fuzz' || true); do
		pkg=$(grep -rl "func $target(" --include='*_test.go' pkg | head -1 | xargs dirname)
		echo "--- $target in ./$pkg"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" "./$pkg"
	done
fi

step "ok"
