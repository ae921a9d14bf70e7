"""What the Makefile runs: commands read from `make -n`, so the test sees exactly what `make` would start."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make_dry_run(target: str, *, fresh_checkout: bool = False) -> list[list[str]]:
    """The shell commands `make TARGET` would run, each split into words (on a fresh checkout: every step)."""
    options = ["-n", "--no-print-directory"] + (["--always-make"] if fresh_checkout else [])
    output = subprocess.run(["make", *options, target], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [shlex.split(line) for line in output.replace("\\\n", " ").splitlines() if line.strip()]


def gunicorn_settings(words: list[str]) -> Config:
    """gunicorn's configuration for that command line, parsed as gunicorn itself parses it."""
    config = Config()
    arguments = config.parser().parse_args(words[1:])
    for name, value in vars(arguments).items():
        if value is not None and name in config.settings:
            config.set(name, value)
    return config


def test_make_run_serves_without_the_machine_wide_gunicorn_control_socket() -> None:
    commands = [words for words in make_dry_run("run") if any(w.endswith("bin/gunicorn") for w in words)]
    assert len(commands) == 1, commands
    words = commands[0][next(i for i, w in enumerate(commands[0]) if w.endswith("bin/gunicorn")):]
    config = gunicorn_settings(words)
    assert config.control_socket_disable is True
    assert config.workers == 2


def test_make_bench_and_its_smoke_run_every_benchmark_script() -> None:
    scripts = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bench").glob("bench_*.py"))
    assert scripts
    for target in ("bench", "bench-smoke"):
        text = " ".join(" ".join(words) for words in make_dry_run(target))
        assert all(script in text for script in scripts), (target, text)
    assert "BENCH_SMOKE=1" in " ".join(" ".join(words) for words in make_dry_run("bench-smoke"))


def test_make_bench_generates_the_registry_once_hands_it_to_every_script_and_always_drops_it() -> None:
    words = [word for line in make_dry_run("bench") for word in line]
    text = " ".join(words)
    created = text.index("bench/registry_db.py create")
    trap = words.index("trap")
    assert "bench/registry_db.py drop" in words[trap + 1] and words[trap + 2].startswith("EXIT")
    generated = text.index("bench/generate_registry.py", text.index("trap"))
    assert created < text.index("trap") < generated < text.index("export BENCH_REGISTRY_URL") < text.index("for script")
    assert "generate_registry" not in " ".join(" ".join(line) for line in make_dry_run("bench-smoke"))


@pytest.mark.parametrize(("target", "consumer"), [("run", "bin/gunicorn"), ("pytest", "bin/pytest"),
                                                  ("test", "bin/pytest")])
def test_make_run_and_the_tests_install_the_npm_lock_and_build_the_bundles_first(target: str, consumer: str) -> None:
    commands = make_dry_run(target, fresh_checkout=True)

    def first(predicate: Callable[[list[str]], bool]) -> int:
        return next((i for i, words in enumerate(commands) if predicate(words)), len(commands))

    install = first(lambda words: words[:2] == ["npm", "ci"])
    build = first(lambda words: words[0].endswith("node_modules/.bin/esbuild"))
    use = first(lambda words: any(word.endswith(consumer) for word in words))
    assert install < build < use, commands
    bundler = commands[build]
    assert {"webui/static/src/process-viewer.js", "webui/static/src/process-modeler.js",
            "webui/static/src/dmn-editor.js"} <= set(bundler)
    assert "--outdir=webui/static/build" in bundler and "--bundle" in bundler and "--minify" in bundler


def test_make_run_starts_one_timer_worker_beside_the_server_and_stops_it_with_the_server() -> None:
    lines = [words for words in make_dry_run("run") if any(w.endswith("bin/gunicorn") for w in words)]
    assert len(lines) == 1, lines
    words = lines[0]
    server = next(i for i, w in enumerate(words) if w.endswith("bin/gunicorn"))
    worker = next(i for i, w in enumerate(words) if w == "worker")
    assert words[worker - 2:worker + 2] == ["--app", "app", "worker", "&"]  # in the background, before the server
    assert words[worker - 3].endswith("bin/flask") and worker < server
    trap = words[words.index("trap") + 1]
    assert "kill" in trap and "$worker" in trap and words[words.index("trap") + 2].startswith("EXIT")
