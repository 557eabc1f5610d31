#!/usr/bin/env bash
# Renders each Kustomize overlay and validates the result against the Kubernetes schemas
# (kubernetes-validate, strict, Kubernetes $K8S_VERSION), then checks that every container
# runs as 65534, non-root, without privilege escalation or capabilities, with seccomp
# RuntimeDefault and a read-only root filesystem. Run by scripts/test.sh.
#
# Installs what is missing, and only that: `kubectl kustomize` (Debian's kubernetes-client,
# whose kustomize is v2.0.3, so the overlays use only what v2 and v5 both read) and
# kubernetes-validate (PyPI) into a virtualenv under target/.
set -euo pipefail
cd "$(dirname "$0")/../.."

K8S_VERSION=1.37.0
VALIDATE_VERSION=1.37.0
venv=target/deploy-venv

sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
if ! kubectl kustomize --help >/dev/null 2>&1; then
  echo "deploy/kubernetes/validate.sh: installing kubernetes-client (kubectl kustomize)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends kubernetes-client
fi
if [ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null)" != "$VALIDATE_VERSION" ]; then
  echo "deploy/kubernetes/validate.sh: installing kubernetes-validate==$VALIDATE_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "kubernetes-validate==$VALIDATE_VERSION"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for overlay in deploy/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  # kustomize v5 warns on stderr about v2-era fields; only the exit status counts.
  if ! kubectl kustomize "$overlay" >"$out/$name.yaml" 2>"$out/$name.err"; then
    echo "FAIL $name: kubectl kustomize"; cat "$out/$name.err"; status=1; continue
  fi
  if ! "$venv/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$out/$name.yaml"; then
    echo "FAIL $name: kubernetes-validate $K8S_VERSION"; status=1; continue
  fi
  if ! "$venv/bin/python" - "$out/$name.yaml" <<'PY'
import sys, yaml

def pod_specs(doc):
    spec = doc.get("spec", {})
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        yield doc["metadata"]["name"], spec["template"]["spec"]

problems, containers = [], 0
for doc in yaml.safe_load_all(open(sys.argv[1])):
    for name, pod in pod_specs(doc or {}):
        psc = pod.get("securityContext", {})
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            containers += 1
            sc = c.get("securityContext", {})
            get = lambda k: sc.get(k, psc.get(k))
            want = {
                "runAsNonRoot": get("runAsNonRoot") is True,
                "runAsUser 65534": get("runAsUser") == 65534,
                "runAsGroup 65534": get("runAsGroup") == 65534,
                "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
                "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
                "capabilities drop ALL": sc.get("capabilities", {}).get("drop") == ["ALL"],
                "seccomp RuntimeDefault": (get("seccompProfile") or {}).get("type") == "RuntimeDefault",
            }
            problems += [f"{name}/{c['name']}: not {k}" for k, ok in want.items() if not ok]
if containers == 0:
    problems.append("no containers rendered")
if problems:
    print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
  then
    echo "FAIL $name: security context"; status=1; continue
  fi
  echo "ok   $name: $(grep -c '^kind:' "$out/$name.yaml") resources valid for Kubernetes $K8S_VERSION"
done
exit $status
