#!/usr/bin/env bash
# Builds the integration-test control plane from the Go module proxy (no binary downloads):
#   kube-apiserver, kubectl, kube-controller-manager   (tools/k8s, k8s.io/kubernetes as pinned in go.mod)
#   etcd                                               (tools/etcd, go.etcd.io/etcd/server/v3 as pinned)
#   helm                                               (go install helm.sh/helm/v3/cmd/helm@$KMP_HELM_VERSION)
#
# Usage: tools/build.sh [kube-apiserver|kubectl|kube-controller-manager|etcd|helm ...]   (default: all)
#
# Environment:
#   KMP_TOOLS_BIN        output directory (default <repo>/.cache/bin, git-ignored)
#   KMP_HELM_VERSION     helm release (default below)
#   KMP_GO_BUILD_P       go build -p value (default 2)
#   KUBEBUILDER_ASSETS, TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD, TEST_ASSET_KUBECTL
#                        envtest installs: a binary found there is reused, not built (see README.md).
# GOCACHE / GOMODCACHE are left at Go's defaults so a machine keeps them between runs.
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TOOLS_DIR/.." && pwd)"
BIN_DIR="${KMP_TOOLS_BIN:-$REPO_ROOT/.cache/bin}"
HELM_VERSION="${KMP_HELM_VERSION:-v3.22.0}"
GO_P="${KMP_GO_BUILD_P:-2}"

export CGO_ENABLED=0
# -mod=readonly: the committed go.mod/go.sum are the source of truth (tools/update-modules.sh regenerates them).
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

log() { printf '[tools/build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH (Go >= 1.26 needed)"

# ---- versions, read from the committed go.mod files --------------------------------------
# gomod_require FILE MODULE -> the version FILE requires (single-line or block form)
# (awk alone: a pipe into an early-exiting awk would SIGPIPE the writer under pipefail)
gomod_require() { awk -v m="$2" '$1=="require" {$1=""; $0=$0} $1==m && $2 ~ /^v/ && !found {print $2; found=1}' "$1"; }
K8S_VERSION="$(gomod_require "$TOOLS_DIR/k8s/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(gomod_require "$TOOLS_DIR/etcd/go.mod" go.etcd.io/etcd/server/v3)"
[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.[0-9]+$ ]] || die "cannot read k8s.io/kubernetes version from tools/k8s/go.mod"
K8S_MINOR="${BASH_REMATCH[1]}"
[[ -n "$ETCD_VERSION" ]] || die "cannot read go.etcd.io/etcd/server/v3 version from tools/etcd/go.mod"

# ---- helpers -----------------------------------------------------------------------------
TIME_BIN=""
[[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1 && TIME_BIN=/usr/bin/time

mkdir -p "$BIN_DIR"
BIN_DIR="$(cd "$BIN_DIR" && pwd)"
WORK="$(mktemp -d)"
# Binaries are written to a temp dir inside BIN_DIR, then renamed: a binary in BIN_DIR is
# always complete, even for a test run that starts while a build is going on.
OUT_TMP="$BIN_DIR/.build-tmp.$$"
trap 'rm -rf "$WORK" "$OUT_TMP"' EXIT

# version_output NAME PATH -> prints the binary's version text (never fails)
version_output() {
  case "$1" in
    kubectl) "$2" version --client 2>&1 || true ;;
    helm)    "$2" version 2>&1 || true ;;
    *)       "$2" --version 2>&1 || true ;;
  esac
}

# has_version NAME PATH EXPECTED -> true if the binary's version text contains EXPECTED
# (captured first: piping into `grep -q` can SIGPIPE the writer under pipefail)
has_version() {
  local text
  text="$(version_output "$1" "$2")"
  [[ "$text" == *"$3"* ]]
}

# expected_version NAME -> the string `version_output` must contain
expected_version() {
  case "$1" in
    kube-apiserver|kube-controller-manager) echo "Kubernetes $K8S_VERSION" ;;
    kubectl) echo "Client Version: $K8S_VERSION" ;;
    etcd)    echo "etcd Version: ${ETCD_VERSION#v}" ;;
    helm)    echo "Version:\"$HELM_VERSION\"" ;;
  esac
}

version_of() {
  case "$1" in
    kube-apiserver|kube-controller-manager|kubectl) echo "$K8S_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
  esac
}

# reused_envtest NAME -> prints the path of an envtest-provided binary, if any
reused_envtest() {
  local name="$1" var=""
  case "$name" in
    kube-apiserver) var=TEST_ASSET_KUBE_APISERVER ;;
    etcd)           var=TEST_ASSET_ETCD ;;
    kubectl)        var=TEST_ASSET_KUBECTL ;;
    *) return 1 ;;
  esac
  if [[ -n "${!var:-}" && -f "${!var}" ]]; then
    echo "${!var}"; return 0
  fi
  if [[ -n "${KUBEBUILDER_ASSETS:-}" && -f "$KUBEBUILDER_ASSETS/$name" ]]; then
    echo "$KUBEBUILDER_ASSETS/$name"; return 0
  fi
  return 1
}

# run_timed NAME CMD... : runs CMD (under /usr/bin/time -v if present), prints wall time + peak RSS
run_timed() {
  local name="$1"; shift
  local start end rc=0 rss=""
  start=$(date +%s)
  if [[ -n "$TIME_BIN" ]]; then
    "$TIME_BIN" -v -o "$WORK/$name.time" "$@" || rc=$?
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.time" 2>/dev/null || true)"
  else
    "$@" || rc=$?
  fi
  end=$(date +%s)
  if [[ $rc -ne 0 ]]; then
    [[ -n "$TIME_BIN" && -f "$WORK/$name.time" ]] && grep -E 'Command exited|signal' "$WORK/$name.time" >&2 || true
    die "building $name failed (exit $rc) after $((end - start))s"
  fi
  local msg="built $name $(version_of "$name") in $((end - start))s"
  [[ -n "$rss" ]] && msg+=" (peak RSS of largest compile/link process: $((rss / 1024)) MiB)"
  log "$msg"
}

# k8s_ldflags -> the -X flags that version-stamp the k8s binaries (as hack/lib/version.sh does)
k8s_ldflags() {
  local ld="" build_date pkg kv key val
  # buildDate = the release's tag time as recorded by the module proxy (reproducible).
  build_date="$(cd "$TOOLS_DIR/k8s" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
  [[ -n "$build_date" ]] || build_date="1970-01-01T00:00:00Z"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    # gitCommit is stamped empty: the module proxy does not record the tag's commit
    # (unstamped it would read "$Format:%H$").
    for kv in "gitVersion=$K8S_VERSION" "gitMajor=1" "gitMinor=$K8S_MINOR" "gitTreeState=clean" "buildDate=$build_date" "gitCommit="; do
      key="${kv%%=*}"; val="${kv#*=}"
      ld+=" -X $pkg.$key=$val"
    done
  done
  echo "$ld"
}

build_one() {
  local name="$1" out="$BIN_DIR/$1" reuse expected
  if reuse="$(reused_envtest "$name")"; then
    local vtext
    vtext="$(version_output "$name" "$reuse")"
    log "reusing envtest $name: $reuse (${vtext%%$'\n'*}); not building it"
    return 0
  fi
  expected="$(expected_version "$name")"
  if [[ -x "$out" ]] && has_version "$name" "$out" "$expected"; then
    log "$name $(version_of "$name") already present in $BIN_DIR, skipping"
    return 0
  fi
  [[ -e "$out" ]] && log "$name in $BIN_DIR is not $(version_of "$name"), rebuilding"

  log "building $name $(version_of "$name") (go build -p $GO_P; a cold kube-apiserver build takes a while on 2 cores)"
  local tmp_out="$OUT_TMP/$name"
  mkdir -p "$OUT_TMP"
  case "$name" in
    kube-apiserver|kubectl|kube-controller-manager)
      ( cd "$TOOLS_DIR/k8s" && run_timed "$name" go build -p "$GO_P" -trimpath \
          -ldflags "-s -w$(k8s_ldflags)" -o "$tmp_out" "./cmd/$name" ) ;;
    etcd)
      ( cd "$TOOLS_DIR/etcd" && run_timed "$name" go build -p "$GO_P" -trimpath \
          -ldflags "-s -w" -o "$tmp_out" . ) ;;
    helm)
      # helm's go.mod has no replace directives, so `go install pkg@version` works.
      # Stamp the version (else `helm version` says "v3.22") and, as helm's Makefile does,
      # the default Kubernetes version from the client-go helm was built against.
      local helm_gomod client_go k8s_minor_helm helm_ld
      helm_gomod="$(cd "$WORK" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" \
        | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
      client_go="$(awk '$1=="k8s.io/client-go"{print $2; exit}' "$helm_gomod")"
      k8s_minor_helm="$(cut -d. -f2 <<<"$client_go")"
      helm_ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
      if [[ "$k8s_minor_helm" =~ ^[0-9]+$ ]]; then
        helm_ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor_helm"
        helm_ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor_helm"
      fi
      ( cd "$WORK" && GOBIN="$OUT_TMP" GOFLAGS="${GOFLAGS% -mod=readonly}" run_timed "$name" \
          go install -p "$GO_P" -trimpath -ldflags "$helm_ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ) ;;
    *) die "unknown binary: $name" ;;
  esac
  mv -f "$tmp_out" "$out"
  has_version "$name" "$out" "$expected" \
    || die "$out does not report '$expected': $(version_output "$name" "$out")"
}

ALL=(etcd kube-apiserver kubectl kube-controller-manager helm)
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=("${ALL[@]}")

log "k8s $K8S_VERSION, etcd $ETCD_VERSION, helm $HELM_VERSION -> $BIN_DIR ($(go version))"
total_start=$(date +%s)
for t in "${TARGETS[@]}"; do build_one "$t"; done
log "done in $(( $(date +%s) - total_start ))s: $(cd "$BIN_DIR" && ls | tr '\n' ' ')"
