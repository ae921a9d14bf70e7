"""The venv runs exactly the locked dependency tree, and the lock follows pyproject.toml.

`make lock` regenerates requirements.lock (runtime) and requirements-dev.lock (runtime + dev extra) with
every transitive version and its hashes; the Makefile installs the dev lock with --require-hashes. A package
installed by hand, an upstream release slipping in, or a pin changed in pyproject.toml without `make lock`
fails here.
"""

from __future__ import annotations

import re
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "mosd-case-management"
# Workers died with a segfault under greenlet 3.5.6 (SQLAlchemy's dependency, then unpinned); 3.2.4 never did.
GREENLET_KNOWN_GOOD = "3.2.4"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;.*?)?\s*\\?$")


def read_lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """Canonical name -> (version, sha256 hashes) of every requirement in a pip-compile lock file."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        if match := _PIN.match(line):
            current = canonicalize_name(match.group(1))
            assert current not in pins, f"{name} pins {current} twice"
            pins[current] = (match.group(2), [])
        elif current and (hashed := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line)):
            pins[current][1].append(hashed.group(1))
        elif line.strip() and not line.lstrip().startswith(("#", "--hash")):
            raise AssertionError(f"{name}: unexpected line {line!r}")
    return pins


def declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def installed() -> dict[str, str]:
    """What this venv's site-packages holds (not the source tree's own egg-info on sys.path)."""
    folders = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions(path=folders)}


def test_every_locked_requirement_has_a_version_and_hashes() -> None:
    for name in ("requirements.lock", "requirements-dev.lock"):
        pins = read_lock(name)
        assert pins, f"{name} is empty"
        unhashed = sorted(package for package, (_version, hashes) in pins.items() if not hashes)
        assert unhashed == [], f"{name}: no hash for {unhashed}"


def test_every_installed_distribution_is_the_locked_version() -> None:
    locked = {package: version for package, (version, _hashes) in read_lock("requirements-dev.lock").items()}
    drift = {package: (version, locked.get(package, "not in the lock"))
             for package, version in installed().items() if package != PROJECT and locked.get(package) != version}
    assert drift == {}, f"installed (version, locked) differ; run `make lock` then `make`: {drift}"


def test_every_locked_requirement_is_installed() -> None:
    have = installed()
    missing = {package: version for package, (version, _hashes) in read_lock("requirements-dev.lock").items()
               if have.get(package) != version}
    assert missing == {}, f"locked but not installed at that version; run `make`: {missing}"


@pytest.mark.parametrize(("lock", "extra"), [("requirements.lock", None), ("requirements-dev.lock", None),
                                             ("requirements-dev.lock", "dev")])
def test_the_lock_holds_every_pin_of_pyproject(lock: str, extra: str | None) -> None:
    locked = read_lock(lock)
    stale = {}
    for requirement in declared(extra):
        pins = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        assert len(pins) == 1, f"pyproject.toml must pin {requirement} exactly (name==x.y.z)"
        version = locked.get(canonicalize_name(requirement.name), ("not in the lock", []))[0]
        if version != pins[0]:
            stale[requirement.name] = (pins[0], version)
    assert stale == {}, f"{lock} is stale, run `make lock`: (pyproject, lock) {stale}"


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    dev = read_lock("requirements-dev.lock")
    differ = {package: (version, dev.get(package, ("missing", []))[0])
              for package, (version, _hashes) in read_lock("requirements.lock").items()
              if dev.get(package, ("missing", []))[0] != version}
    assert differ == {}, f"(runtime, dev) versions differ: {differ}"


def test_greenlet_is_the_version_that_does_not_crash_workers() -> None:
    assert [str(r.specifier) for r in declared() if canonicalize_name(r.name) == "greenlet"] == [
        f"=={GREENLET_KNOWN_GOOD}"]
    assert read_lock("requirements.lock")["greenlet"][0] == GREENLET_KNOWN_GOOD
    assert metadata.version("greenlet") == GREENLET_KNOWN_GOOD
