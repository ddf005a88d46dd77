#!/usr/bin/env bash
# Issue 10's promise for machines that cannot build native addons: `npm install` still
# succeeds (better-sqlite3 is optional; the Bun executable never needs it), and the Node
# bundle then says what is missing instead of failing obscurely. Run by .ci/run after
# `npm run build`.
#
# A copy of the repository's package files is installed with a PATH that has no
# python3, make or C/C++ compiler (what node-gyp needs), then the already built
# dist/llmproxy.mjs is run inside it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/llmproxy.mjs ] || { echo "check-install-without-compiler: run npm run build first" >&2; exit 1; }

tmp=$(mktemp -d /tmp/llmproxy-nocompiler-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# every command on the PATH but the build tools
mkdir "$tmp/bin"
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    b=${f##*/}
    case $b in python* | make | gmake | cc | c++ | gcc* | g++* | clang* | *-linux-gnu-*) continue ;; esac
    [ -e "$tmp/bin/$b" ] || ln -s "$f" "$tmp/bin/$b"
  done
done
if PATH="$tmp/bin" command -v python3 make g++ cc >/dev/null 2>&1; then
  echo "check-install-without-compiler: could not hide the build tools" >&2
  exit 1
fi

mkdir -p "$tmp/repo/dist"
cp package.json package-lock.json "$tmp/repo/"
cp dist/llmproxy.mjs dist/usage-worker.mjs "$tmp/repo/dist/"
cd "$tmp/repo"

echo "npm install without python3, make or a C++ compiler:"
PATH="$tmp/bin" timeout 600 npm install --no-audit --no-fund
if [ -e node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  echo "check-install-without-compiler: better-sqlite3 was built anyway: the check proves nothing" >&2
  exit 1
fi

fail() {
  echo "check-install-without-compiler: $*" >&2
  exit 1
}
PATH="$tmp/bin" node dist/llmproxy.mjs version | grep -q "(node " || fail "node dist/llmproxy.mjs version failed"
set +e
out=$(PATH="$tmp/bin" node dist/llmproxy.mjs keys list --db "$tmp/keys.db" 2>&1)
code=$?
set -e
[ "$code" -eq 1 ] || fail "keys list without better-sqlite3 exited $code, not 1: $out"
case $out in *"needs the better-sqlite3 package"*"npm rebuild better-sqlite3"*) ;; *) fail "unexpected message: $out" ;; esac
[ ! -e "$tmp/keys.db" ] || fail "keys list created $tmp/keys.db without a driver"
echo "ok: npm install succeeded without a compiler; the Node bundle says: $out"
