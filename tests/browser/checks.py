"""Checks that hold on every page: it fits the screen (nothing overflows sideways) and axe-core finds no serious
or critical accessibility violation. Any browser test can call ``assert_fits_and_accessible(page)``."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # package.json devDependencies, installed by `make`
BLOCKING_IMPACTS = ("serious", "critical")

# The outermost elements that stick out of the viewport, to name in a failure. One inside a box that scrolls or clips
# (like .table-wrap) is not reported, unless it escapes that box: an absolutely positioned element belongs to its
# nearest positioned ancestor, so a box between them that clips does not hold it.
_OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    let position = getComputedStyle(el).position;
    if (position === 'fixed') return true;
    let absolute = position === 'absolute';
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (absolute && style.position === 'static') continue;
      absolute = style.position === 'absolute';
      if (style.overflowX !== 'visible') return true;
    }
    return false;
  };
  const outside = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && (box.right > width + 1 || box.left < -1) && !clipped(el);
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    (el.dataset && el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : '');
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (!outside(el) || (el.parentElement !== document.body && outside(el.parentElement))) continue;
    const box = el.getBoundingClientRect();
    found.push(`${describe(el)} in ${describe(el.parentElement)} [${Math.round(box.left)}..${Math.round(box.right)}]`);
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, found: found.slice(0, 12)};
}"""


@cache
def _axe_source() -> str:
    if not AXE.exists():
        raise AssertionError(f"axe-core is missing at {AXE}: `make` installs it (package.json's devDependencies)")
    return AXE.read_text(encoding="utf-8")


def assert_fits(page: Page) -> None:
    """The document is no wider than the viewport: nothing makes the page scroll sideways."""
    measured: dict[str, Any] = page.evaluate(_OVERFLOWING)
    assert measured["scrollWidth"] <= measured["width"], (
        f"{page.url} is {measured['scrollWidth']} px wide in a {measured['width']} px viewport; sticking out: "
        + "; ".join(measured["found"]))


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now.

    The script is evaluated through the DevTools protocol, which the app's Content-Security-Policy (no inline
    scripts, no eval) does not govern, so the check runs on the real pages with their real headers."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;undefined")
    results: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']} {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:6]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
                         .replace("\n", " "))
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n{describe_violations(violations)}"


def assert_fits_and_accessible(page: Page) -> None:
    """What every page must pass, in both languages and at phone and desktop sizes."""
    assert_fits(page)
    assert_accessible(page)
