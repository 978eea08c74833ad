#!/usr/bin/env bash
# Regenerates the README screenshots from a real run of `dbdeck --sandbox` in a detached tmux session:
# each screen is captured with its colours (`capture-pane -e`) and converted to SVG by ansi2svg.py.
# Run from the repository root: bash screenshots/make.sh
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

cargo build --quiet
bin="$root/target/debug/dbdeck"

session="dbdeck-shots-$$"
tmp="$(mktemp -d)"
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

tmux new-session -d -s "$session" -x 160 -y 45 "env TERM=xterm-256color '$bin' --sandbox; sleep 60"

pane() { tmux capture-pane -p -t "$session"; }
keys() { tmux send-keys -t "$session" "$@"; }
text() { tmux send-keys -l -t "$session" "$1"; }

# Polls the screen until it contains every given string; fails with the last screen after 30 s.
wait_for() {
    local deadline=$((SECONDS + 30)) screen s missing
    while true; do
        screen="$(pane)"
        missing=""
        for s in "$@"; do
            [[ "$screen" == *"$s"* ]] || missing="$s"
        done
        [[ -z "$missing" ]] && return 0
        if ((SECONDS >= deadline)); then
            echo "make.sh: timed out waiting for '$missing'; screen:" >&2
            echo "$screen" >&2
            exit 1
        fi
        sleep 0.2
    done
}

# Waits for the screen to stop changing, so a capture never catches a half-drawn frame.
settle() {
    local prev="" cur n=0
    while ((n < 3)); do
        sleep 0.2
        cur="$(pane)"
        if [[ "$cur" == "$prev" ]]; then n=$((n + 1)); else n=0; fi
        prev="$cur"
    done
}

shot() {
    settle
    tmux capture-pane -e -p -t "$session" >"$tmp/$1.ans"
    python3 "$here/ansi2svg.py" <"$tmp/$1.ans" >"$here/$1.svg"
    echo "wrote screenshots/$1.svg"
}

# The list with the example clusters of every kind.
wait_for "ledger-async" "orders-db" "shop-db" "inventory-db" "ps/gr" "pxc "
shot list

# The help screen (before the wizard, whose last error stays in the status line).
keys "?"
wait_for "keys can be remapped"
shot help
keys q
wait_for "ledger-async" "orders-db"

# Detail of the PXC cluster: filter to it, then open it.
keys /
text pxc
keys Enter
wait_for "</pxc>"
keys Enter
wait_for "pxc default/shop-db" "Topology"
shot detail
keys Escape
wait_for "clusters(all)"
keys Escape
wait_for "ledger-async" "orders-db"

# Detail of the PS async cluster, on its Topology pane.
keys /
text async
keys Enter
wait_for "</async>"
keys Enter
wait_for "ps/async default/ledger-async" "Topology"
keys 1
shot detail-ps-async
keys Escape
wait_for "clusters(all)"
keys Escape
wait_for "ledger-async" "orders-db"

# The create wizard on its name step, showing a validation error.
keys c
wait_for "1. Kind"
keys Enter
wait_for "▸ 2. Name"
for _ in $(seq 1 12); do keys BSpace; done
text Shop_DB
keys Enter
wait_for "fix this step first"
shot wizard
keys Escape
wait_for "Discard this new cluster?"
keys y
wait_for "ledger-async" "orders-db"
keys q
