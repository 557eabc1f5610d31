#!/bin/sh
# Re-check every rule file here with promtool (2.42): bad/ must fail (exit 1),
# good/ and layout/ must pass (exit 0). Prints offenders; exits 1 if any.
cd "$(dirname "$0")" || exit 2
PROMTOOL=${PROMTOOL:-promtool}
rc=0
for f in bad/*.yaml; do
  "$PROMTOOL" check rules "$f" >/dev/null 2>&1
  s=$?; [ $s -eq 1 ] || { echo "bad/ file accepted or odd exit ($s): $f"; rc=1; }
done
for f in good/*.yaml good/*.yml layout/*.yaml layout/*.yml; do
  [ -e "$f" ] || continue
  "$PROMTOOL" check rules "$f" >/dev/null 2>&1
  s=$?; [ $s -eq 0 ] || { echo "file rejected (exit $s): $f"; rc=1; }
done
[ $rc -eq 0 ] && echo "all verdicts as expected"
exit $rc
