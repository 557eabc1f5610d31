#!/usr/bin/env bash
# Checks that every citation of a doc in the tracked files — `docs/<name>.md`, optionally
# followed by `, "Heading"` (and `and "Another"`) — names a file and headings that exist.
#
#   bash scripts/check-doc-refs.sh
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
refs=0
while IFS= read -r hit; do
  src=${hit%%:*}                 # file:line:citation
  rest=${hit#*:}
  line=${rest%%:*}
  cite=${rest#*:}
  doc=${cite%%,*}
  doc=${doc%% *}
  refs=$((refs + 1))
  if [ ! -f "$doc" ]; then
    echo "$src:$line: $doc does not exist" >&2
    status=1
    continue
  fi
  while IFS= read -r heading; do
    [ -n "$heading" ] || continue
    if ! grep -qxE "#+ $(printf '%s' "$heading" | sed 's/[][\.*^$+?(){}|/]/\\&/g')" "$doc"; then
      echo "$src:$line: $doc has no heading \"$heading\"" >&2
      status=1
    fi
  done < <(printf '%s\n' "$cite" | grep -oE '"[^"]+"' | tr -d '"')
done < <(git ls-files -z -- crates benches fuzz scripts testdata deploy README.md docs |
  xargs -0 grep -noE 'docs/[A-Za-z0-9_-]+\.md(, "[^"]+"( and "[^"]+")*)?' 2>/dev/null || true)

if [ "$status" -eq 0 ]; then
  echo "check-doc-refs: $refs citations of docs/, all resolve"
fi
exit "$status"
