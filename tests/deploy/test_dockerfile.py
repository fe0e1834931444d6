"""The one container image: hadolint-clean, multi-stage, non-root, dependencies from constraints.txt."""

from __future__ import annotations

import subprocess

from .chart import DOCKERFILE, python_bin


def _hadolint(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python_bin("hadolint"), "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_hadolint_passes():
    proc = _hadolint(DOCKERFILE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_is_not_vacuous(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install voltstream\n")
    proc = _hadolint(bad)
    assert proc.returncode != 0 and "DL3007" in proc.stdout


def test_dockerfile_shape():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert len(froms) >= 2 and "slim" in DOCKERFILE.read_text()
    assert any("pip install" in line and "-c constraints.txt" in line for line in lines)
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1].split()[1] not in ("root", "0", "0:0")
    assert lines[lines.index(froms[-1]):].count(users[-1]) == 1  # the runtime stage drops root
    assert 'ENTRYPOINT ["voltstream"]' in lines
    ignore = DOCKERFILE.with_name("Dockerfile.dockerignore").read_text()
    assert ignore.splitlines()[1] == "*" or "*" in ignore.splitlines()
