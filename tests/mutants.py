"""``make mutants``: one-line mutations of the product, each in a copy of the tree, each
run against the tests that should catch it; prints the survivors (a survivor is a claim
no test backs). Not part of ``make test``: a Rust mutation rebuilds the core (~1 min).

    python -m tests.mutants            # every mutation
    python -m tests.mutants cpu_total  # one, by name
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARGO_TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/vnbridge/cargo-target"))


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]

    @property
    def rust(self) -> bool:
        return self.path.endswith(".rs")


MUTATIONS = (
    # issue 36: the cAdvisor table checked itself
    Mutation(
        "cpu_total",
        "metricsbridge/translating.py",
        '_c("container_cpu_usage_seconds_total", const={"cpu": "total"}),',
        '_c("container_cpu_usage_seconds_total", const={"cpu": "all"}),',
        ("tests/unit/test_translation.py",),
    ),
    Mutation(
        "loopback_key",
        "metricsbridge/translating.py",
        '_NET_SKIP = {"interface": frozenset({"lo"})}',
        '_NET_SKIP = {"iface": frozenset({"lo"})}',
        ("tests/unit/test_translation.py",),
    ),
    Mutation(
        "node_exporter_loopback_key",
        "metricsbridge/translating.py",
        'skip={"device": frozenset({"lo"})},',
        'skip={"dev": frozenset({"lo"})},',
        ("tests/unit/test_translation.py",),
    ),
    Mutation(
        "kubelet_metrics_path",
        "metricsbridge/translating.py",
        'const={"metrics_path": "/metrics"},',
        'const={"metrics_path": "/metrics/cadvisor"},',
        ("tests/unit/test_translation.py",),
    ),
    # issue 33: bounded work and state, every record accounted for, failures that stop
    Mutation(
        "multiline_cap",
        "core/src/assemble.rs",
        "grp.lines.len() >= self.limits.max_lines || grp.bytes",
        "false && grp.lines.len() >= self.limits.max_lines || grp.bytes",
        ("tests/unit/test_bounded.py",),
    ),
    Mutation(
        "held_streams_cap",
        "core/src/assemble.rs",
        "if !self.pending.contains_key(&k) && self.pending.len() >= MAX_STREAMS {",
        "if false {",
        ("tests/unit/test_bounded.py",),
    ),
    Mutation(
        "repeated_metadata_key",
        "core/src/json.rs",
        "                if span.is_some() {",
        "                if false && span.is_some() {",
        ("tests/unit/test_bounded.py",),
    ),
    Mutation(
        "zero_partitions",
        "core/src/py_kafka.rs",
        "if partitions == 0 && !keys.is_empty() {",
        "if false {",
        ("tests/unit/test_bounded.py",),
    ),
    Mutation(
        "object_key_cap",
        "core/src/json.rs",
        "pub const MAX_OBJECT_KEYS: usize = 10_000;",
        "pub const MAX_OBJECT_KEYS: usize = 10_000_000;",
        ("tests/unit/test_bounded.py",),
    ),
    Mutation(
        "es_refusal_fatal",
        "logbridge/sinks/elastic.py",
        "raise Fatal(_refusal(status, exc)) from None",
        "raise",
        ("tests/unit/test_elastic_sink.py",),
    ),
    # issue 36: the shape of a real kubelet's series (tests/reference/kubelet/)
    Mutation(
        "pod_cgroup_blanks",
        "core/src/metrics.rs",
        'l.push(("image".into(), String::new()));',
        "",
        ("tests/unit/test_translation.py",),
    ),
    Mutation(
        "cgroup_id",
        "core/src/metrics.rs",
        'format!("/kubepods/pod{}/{cid}", pod.uid)',
        'format!("/kubepods/{cid}")',
        ("tests/unit/test_translation.py",),
    ),
    # issue 36: every reason forced to one (the property tests never checked reasons)
    Mutation(
        "reason_identity",
        "core/src/decode.rs",
        'Reason::NoIdentity => "no_pod_identity",',
        'Reason::NoIdentity => "internal_error",',
        ("tests/unit/test_properties.py", "tests/unit/test_providers.py"),
    ),
    Mutation(
        "reason_timestamp",
        "core/src/decode.rs",
        'Reason::BadTimestamp => "bad_timestamp",',
        'Reason::BadTimestamp => "internal_error",',
        ("tests/unit/test_properties.py", "tests/unit/test_providers.py"),
    ),
    # issue 31: Tencent's default record (metadata as a JSON string) read as an object only
    Mutation(
        "metadata_string",
        "core/src/meta.rs",
        "Ok(inner @ J::Obj(_)) => (inner, 1),",
        "Ok(_inner @ J::Obj(_)) => (J::Str(s), 2),",
        ("tests/unit/test_providers.py",),
    ),
    Mutation(
        "fluent_bit_namespace_key",
        "core/src/meta.rs",
        'namespace: &["namespace_name"],',
        'namespace: &["namespace"],',
        ("tests/unit/test_providers.py",),
    ),
    # issue 32: sample timestamps dropped again
    Mutation(
        "timestamps_dropped",
        "core/src/metrics.rs",
        "        if let Some(ms) = ts_ms {\n",
        "        if let Some(ms) = ts_ms.filter(|_| false) {\n",
        ("tests/unit/test_translation.py",),
    ),
)


def _copy(to: Path) -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in files.splitlines():
        src = ROOT / rel
        if src.is_file():
            dst = to / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def _build_core(tree: Path, lib: Path) -> None:
    out = tree / "wheel"
    maturin = Path(sys.executable).parent / "maturin"
    subprocess.run(
        [
            str(maturin),
            "build",
            "--release",
            "-q",
            *("--features", "extension-module", "--compatibility", "linux"),
            "-o",
            str(out),
        ],
        cwd=tree / "core",
        check=True,
        capture_output=True,
        env={**os.environ, "CARGO_TARGET_DIR": str(CARGO_TARGET)},
    )
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(lib)


def run(m: Mutation, *, control: bool = False) -> bool:
    """True when the mutation survived (no test failed); ``control``: no mutation."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{m.name}-") as tmp:
        tree, lib = Path(tmp) / "tree", Path(tmp) / "lib"
        _copy(tree)
        target = tree / m.path
        text = target.read_text()
        if not control:
            if text.count(m.old) != 1:
                raise SystemExit(
                    f"{m.name}: the line to mutate is not in {m.path} once; update tests/mutants.py"
                )
            target.write_text(text.replace(m.old, m.new))
        path = [str(tree)]
        if m.rust:
            lib.mkdir()
            _build_core(tree, lib)
            path.insert(0, str(lib))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *m.tests],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        )
        if control and proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode == 0


def main() -> None:
    only = set(sys.argv[1:])
    chosen = [m for m in MUTATIONS if not only or m.name in only]
    # the control: the same tests on an unmutated copy pass, so a kill below is the mutation's
    tests = tuple(sorted({t for m in chosen for t in m.tests}))
    if not run(Mutation("control", "Makefile", "", "", tests), control=True):
        raise SystemExit("control: the tests fail on an unmutated copy; fix that first")
    survivors = []
    for m in chosen:
        survived = run(m)
        print(f"{m.name:28} {'SURVIVED' if survived else 'killed'}", flush=True)
        if survived:
            survivors.append(m.name)
    print(f"survivors: {', '.join(survivors) if survivors else 'none'} ({len(chosen)} mutations)")
    sys.exit(1 if survivors else 0)


if __name__ == "__main__":
    main()
