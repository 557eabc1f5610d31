#!/usr/bin/env bash
# Prints the dependency graph between the workspace's own crates, read from their
# Cargo.toml files: one line per crate, `crate -> dependencies   [dev: dev-dependencies]`.
# docs/architecture.md holds this output between the "crate-graph" markers.
#
#   bash scripts/crate-graph.sh           # print the graph
#   bash scripts/crate-graph.sh --check   # fail if docs/architecture.md shows another one
#   bash scripts/crate-graph.sh --write   # replace the block in docs/architecture.md
set -euo pipefail
cd "$(dirname "$0")/.."

graph() {
  local toml
  # One "crate kind dependency" triple per edge (kind: dep or dev); a crate with no edges
  # gets "crate none -".
  for toml in crates/*/Cargo.toml benches/Cargo.toml; do
    awk '
      /^\[/ { section = $0; next }
      section == "[package]" && /^name *=/ { gsub(/^name *= *"|".*$/, ""); name = $0; next }
      # A workspace crate as a key: `tocsin-x.workspace = true` or `tocsin-x = { path = … }`.
      /^tocsin-[a-z-]+[ .=]/ {
        dep = $0; sub(/[ .=].*$/, "", dep)
        if (section == "[dependencies]") edges[++n] = "dep " dep
        else if (section == "[dev-dependencies]") edges[++n] = "dev " dep
      }
      END {
        if (n == 0) print name " none -"
        for (i = 1; i <= n; i++) print name " " edges[i]
      }' "$toml"
  done | LC_ALL=C sort -u | awk '
    function flush() {
      if (crate == "") return
      line = crate " ->" (deps == "" ? " (none)" : " " deps)
      if (devs != "") line = line "   [dev: " devs "]"
      print line
    }
    $1 != crate { flush(); crate = $1; deps = ""; devs = "" }
    $2 == "dep" { deps = deps (deps == "" ? "" : ", ") $3 }
    $2 == "dev" { devs = devs (devs == "" ? "" : ", ") $3 }
    END { flush() }'
}

doc=docs/architecture.md
begin='<!-- crate-graph: begin (bash scripts/crate-graph.sh --write) -->'
end='<!-- crate-graph: end -->'

documented() {
  awk -v b="$begin" -v e="$end" '$0 == e { on = 0 } on && !/^```/ { print } $0 == b { on = 1 }' "$doc"
}

case "${1:-}" in
  "") graph ;;
  --check)
    if ! diff -u <(documented) <(graph) >&2; then
      echo "crate-graph: $doc does not match the Cargo.toml files (- documented, + actual);" \
        "run: bash scripts/crate-graph.sh --write" >&2
      exit 1
    fi
    ;;
  --write)
    new=$(graph)
    tmp=$(mktemp)
    awk -v b="$begin" -v e="$end" -v g="$new" '
      $0 == b { print; print "```text"; print g; print "```"; skip = 1; next }
      $0 == e { skip = 0 }
      !skip { print }' "$doc" >"$tmp"
    grep -qxF "$begin" "$tmp" || { rm -f "$tmp"; echo "crate-graph: no marker in $doc" >&2; exit 1; }
    cat "$tmp" >"$doc"
    rm -f "$tmp"
    ;;
  *) echo "usage: bash scripts/crate-graph.sh [--check|--write]" >&2; exit 2 ;;
esac
