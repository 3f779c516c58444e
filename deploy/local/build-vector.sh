#!/usr/bin/env bash
# Builds Vector from a source snapshot into the cache, once per pinned commit, with only
# the components the peers bench uses, and prints the binary's path.
# Why: `make bench BENCH=peers` (tests/bench/peers.py) runs Vector beside logbridge on the
# same records. Vector is not on any registry this machine reaches, so it is built from
# source: a git snapshot of vectordotdev/vector (VECTOR_SRC) and snapshots of the git
# dependencies its Cargo.lock names (vrl, tokio-rs/tracing, heim, ntapi), which cargo is
# pointed at through git's url.<local>.insteadOf — crates.io serves everything else.
# Features: sources-kafka, transforms-remap, sinks-elasticsearch and tikv-jemallocator
# (the allocator Vector's own Linux builds use). Profile: Vector's release settings except
# thin LTO with 16 codegen units (theirs is fat LTO, 1 unit: far longer on 2 cores).
# Exit 3 with one line when no source snapshot is here (the bench then says so and goes on).
source "$(dirname "$0")/lib.sh"
MIRROR="${VNBRIDGE_MIRROR:-/work/.mirror}"
VECTOR_SRC="${VECTOR_SRC:-$MIRROR/vectordotdev+vector/repo}"
VECTOR_REV="${VECTOR_REV:-c3445d42d2}"
VECTOR_FEATURES="sources-kafka,transforms-remap,sinks-elasticsearch,tikv-jemallocator"
dir="$CACHE/vector-$VECTOR_REV"
out="$dir/vector"
cached "$out"
if ! git -C "$VECTOR_SRC" cat-file -e "$VECTOR_REV^{commit}" 2>/dev/null; then
  echo "vector: not built: no snapshot of vectordotdev/vector with commit $VECTOR_REV at $VECTOR_SRC (set VECTOR_SRC)" >&2
  exit 3
fi
command -v cargo >/dev/null || die "Rust (cargo) is required to build Vector"
apt_need protobuf-compiler protoc   # vector-core compiles its event.proto
apt_need cmake cmake
if ! compgen -G "/usr/lib/llvm-*/lib/libclang.so*" >/dev/null; then   # bindgen (zstd-sys, rdkafka-sys)
  say "installing Debian package libclang-dev (for bindgen)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libclang-dev >&2 \
    || die "apt-get install libclang-dev failed; run it by hand to see why"
fi
mkdir -p "$dir"
log="$dir/build.log"

# The git dependencies in Vector's Cargo.lock, each served from a local bare clone of its
# snapshot. heim's `update-deps` branch is absent from the snapshot: heim is only used by
# sources-host_metrics (not built), so the branch is made at the snapshot's head and the
# lock follows it (`cargo update -p heim`).
gitcfg="$dir/gitconfig"
: >"$gitcfg"
for spec in vectordotdev/vrl tokio-rs/tracing vectordotdev/heim MSxDOS/ntapi; do
  snap="$MIRROR/${spec/\//+}/repo"
  [ -d "$snap" ] || { echo "vector: not built: no snapshot of $spec at $snap (a git dependency of Vector)" >&2; exit 3; }
  bare="$dir/git/${spec/\//+}.git"
  [ -d "$bare" ] || git clone -q --bare "$snap" "$bare"
  git config -f "$gitcfg" --add "url.file://$bare.insteadOf" "https://github.com/$spec.git"
  git config -f "$gitcfg" --add "url.file://$bare.insteadOf" "https://github.com/$spec"
done
git -C "$dir/git/vectordotdev+heim.git" branch -f update-deps HEAD

src="$dir/src"
if [ ! -d "$src/.git" ]; then
  git clone -q --no-checkout "$VECTOR_SRC" "$src"
  git -C "$src" checkout -q "$VECTOR_REV"
fi

say "building Vector $VECTOR_REV ($VECTOR_FEATURES) with $(rustc --version | cut -d' ' -f2) (cold: 15-30 minutes on 2 cores); log: $log"
(
  cd "$src"
  export GIT_CONFIG_GLOBAL="$gitcfg" CARGO_NET_GIT_FETCH_WITH_CLI=true
  export CARGO_TARGET_DIR="$dir/target" RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-stable}"
  export CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  cargo update -q -p heim >"$log" 2>&1 || true
  cargo build --release --no-default-features --features "$VECTOR_FEATURES" >>"$log" 2>&1
) || { tail -n 30 "$log" >&2; die "Vector build failed (log: $log)"; }
cp "$dir/target/release/vector" "$out.tmp"
strip "$out.tmp" 2>/dev/null || true
mv "$out.tmp" "$out"
echo "$out"
