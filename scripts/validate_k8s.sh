#!/usr/bin/env bash
# Builds k8s/base and every overlay under k8s/overlays/ offline (kubectl's built-in
# kustomize) and validates every object against the Kubernetes OpenAPI schemas
# (kubernetes-validate, strict: unknown fields fail, unknown kinds fail) for the oldest
# and the newest Kubernetes we support. No cluster is needed. The structural rules
# (probes, securityContext, PDB/HPA, NetworkPolicy, ...) are tests/deploy/.
#
#   scripts/validate_k8s.sh                   build and validate
#   scripts/validate_k8s.sh --ensure-kubectl  only make sure a usable kubectl exists
#
# PY (default .venv/bin/python) must have kubernetes-validate (the dev extra).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
K8S_VERSIONS=${K8S_VERSIONS:-"1.29.0 1.37.0"}

# kustomize components need the kustomize v4+ built into kubectl 1.24 and later.
kubectl_usable() {
  command -v kubectl >/dev/null || return 1
  local version
  version=$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"kustomizeVersion": *"v\([0-9]*\).*/\1/p')
  [ -n "$version" ] && [ "$version" -ge 4 ]
}

ensure_kubectl() {
  kubectl_usable && return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # "kubectl" where a Kubernetes apt repository is configured; Debian's own package
    # is "kubernetes-client".
    for package in kubectl kubernetes-client; do
      if apt-cache policy "$package" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        echo "kubectl not usable: installing $package with apt-get" >&2
        apt-get install -y -qq --no-install-recommends "$package" >/dev/null
        kubectl_usable && return 0
      fi
    done
  fi
  cat >&2 <<'MSG'
A kubectl with a built-in kustomize v4 or newer (kubectl 1.24+) is required and could not
be installed automatically (Debian's kubernetes-client 1.20 is too old for kustomize
components). Install kubectl (https://kubernetes.io/docs/tasks/tools/) and run again.
MSG
  return 1
}

if [ "${1:-}" = "--ensure-kubectl" ]; then
  ensure_kubectl
  exit 0
fi
ensure_kubectl

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for dir in k8s/base k8s/overlays/*/; do
  dir=${dir%/}
  file="$out/$(echo "$dir" | tr / _).yaml"
  kubectl kustomize "$dir" >"$file"
  echo "built $dir: $(grep -c '^kind:' "$file") objects"
done

# shellcheck disable=SC2086
"$PY" - $K8S_VERSIONS -- "$out"/*.yaml <<'PY'
import sys
from pathlib import Path

import yaml
from kubernetes_validate import utils

args = sys.argv[1:]
split = args.index("--")
versions, files = args[:split], args[split + 1 :]
failures = 0
for name in files:
    docs = [d for d in yaml.safe_load_all(Path(name).read_text()) if d]
    for doc in docs:
        what = f"{Path(name).stem}: {doc['kind']}/{doc['metadata']['name']}"
        for version in versions:
            try:
                utils.validate(doc, version, strict=True)
            except utils.ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                print(f"INVALID {what} (Kubernetes {version}): {path}: {error.message}")
                failures += 1
            except utils.SchemaNotFoundError as error:
                print(f"UNKNOWN {what}: {error.message}")
                failures += 1
    print(f"validated {Path(name).stem}: {len(docs)} objects, Kubernetes {', '.join(versions)}")
sys.exit(1 if failures else 0)
PY
echo "k8s manifests OK"
