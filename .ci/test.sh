#!/usr/bin/env bash
# The whole test suite, as the README gives it: installs what the tests need when it is missing,
# then builds and runs every test. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 2; }
command -v kubectl >/dev/null || need_apt+=(kubectl)
command -v tmux >/dev/null || need_apt+=(tmux)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ -x .ci/install-db.sh ] || [ -f .ci/install-db.sh ]; then
  bash .ci/install-db.sh
fi

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=1
cargo build --locked --all-targets
cargo test --locked --no-fail-fast
