"""The browser-side packages: exact versions, a lock with a hash for every package, and built files kept out of git."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def read_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / name).read_text(encoding="utf-8"))
    return data


def test_package_json_pins_every_direct_dependency_to_one_version() -> None:
    manifest = read_json("package.json")
    pinned = {**manifest["dependencies"], **manifest["devDependencies"]}
    assert {"bpmn-js", "dmn-js", "esbuild"} <= set(pinned)
    assert {name: version for name, version in pinned.items() if not EXACT_VERSION.match(version)} == {}


def test_the_lock_matches_package_json_and_holds_a_hash_for_every_package() -> None:
    manifest, lock = read_json("package.json"), read_json("package-lock.json")
    root = lock["packages"][""]
    assert root["dependencies"] == manifest["dependencies"]
    assert root["devDependencies"] == manifest["devDependencies"]
    installed = {path: entry for path, entry in lock["packages"].items() if path}
    for name, version in {**manifest["dependencies"], **manifest["devDependencies"]}.items():
        assert installed[f"node_modules/{name}"]["version"] == version
    unhashed = [path for path, entry in installed.items() if not entry.get("integrity", "").startswith("sha512-")]
    assert unhashed == []


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_installed_packages_and_built_bundles_are_never_committed() -> None:
    paths = ["node_modules/bpmn-js/package.json", "webui/static/build/process-viewer.js",
             "webui/static/build/process-viewer.css", "webui/static/build/fonts/bpmn.woff2"]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True).stdout
    assert ignored.split() == paths
    assert subprocess.run(["git", "check-ignore", "-q", "webui/static/src/process-viewer.js"], cwd=ROOT).returncode == 1
