"""The wheel the Dockerfile builds: its build stage's files alone make a complete wheel
(every Python package of [tool.maturin] plus the compiled core), built without a
packaging warning, whose CLIs import from the wheel itself.

No Docker engine here: the test copies exactly what the build stage COPYs into an empty
directory and runs the same ``pip wheel`` there (the project's maturin, the cached cargo
target directory).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _build_stage_copies() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    stage = text.split(" AS build", 1)[1].split("\nFROM ", 1)[0]
    out: list[str] = []
    for line in stage.splitlines():
        if m := re.match(r"COPY (?!--from)(.+)$", line.strip()):
            *sources, _dest = m.group(1).split()
            out.extend(sources)
    return out


def test_the_docker_build_stage_makes_a_complete_wheel_without_warnings(tmp_path: Path) -> None:
    context = tmp_path / "src"
    context.mkdir()
    for name in _build_stage_copies():
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, context / name, ignore=shutil.ignore_patterns("__pycache__", "target"))
        else:
            shutil.copy2(src, context / name)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    env = {
        **os.environ,
        "CARGO_TARGET_DIR": str(cache / "vnbridge" / "cargo-target"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # its maturin
    }
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."],
        cwd=context,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    said = [
        line
        for line in (built.stdout + built.stderr).splitlines()
        if re.search(r"\bwarn(ing)?\b", line, re.IGNORECASE) and "pip version" not in line
    ]
    assert said == [], said
    (wheel,) = wheels.glob("vnbridge-*.whl")
    assert "abi3" in wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["maturin"]["python-packages"]
    for package in packages:
        assert f"{package}/__init__.py" in names, f"{package} is missing from the image's wheel"
    assert any(re.match(r"vnbridge_core/vnbridge_core\.abi3\.so$|vnbridge_core\.abi3\.so$", n) for n in names)
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        f"import sys; sys.path.insert(0, {str(unpacked)!r}); "
        "import logbridge.cli, discovery.cli, metricsbridge.cli, vnbridge, vnbridge_core; "
        "print(logbridge.cli.__file__, vnbridge.__file__, vnbridge_core.__file__)"
    )
    files = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert files and all(f.startswith(str(unpacked)) for f in files), files


def test_the_image_installs_exactly_the_locked_dependencies() -> None:
    """Issue 35: the image's dependencies come from requirements.lock (versions and hashes,
    `make lock`), never resolved again at build time; the lock covers every runtime
    dependency pyproject.toml names, and each pin satisfies pyproject's range."""
    from packaging.requirements import Requirement

    docker = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes --no-deps -r requirements.lock" in docker
    assert "--no-deps /wheels/*.whl" in docker
    lock = (ROOT / "requirements.lock").read_text()
    pins = {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.M)}
    assert all(f"{name}==" in lock for name in pins)
    assert lock.count("--hash=sha256:") >= len(pins)
    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock: make lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} outside {spec}"
