"""The household's decision letter as a PDF: fpdf2 lays it out, HarfBuzz (uharfbuzz) shapes Arabic.

One font covers both scripts: DejaVu Sans from Debian's fonts-dejavu-core, found under LETTER_FONT_DIR
(``make run`` installs the package when it is missing). The Noto Arabic fonts lack Latin letters, dashes
and bullets, and fpdf2's per-character fallback between two fonts broke the order of whole Arabic lines.
Without the font the letter cannot be made and the page says so (FontsMissing), never printing boxes.
"""

from __future__ import annotations

import re
from pathlib import Path

from webui.explanations import LetterText

DEFAULT_FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FAMILY = "dejavu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
#: A Latin or numeric run with a dash (a case number, a date, an age range "18–64").
_LTR_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9./:]*[-–][A-Za-z0-9\-–./:]*[A-Za-z0-9]")


def isolate_ltr_runs(text: str) -> str:
    """Keep dashed Latin and number runs left to right inside Arabic (fpdf2's bidi reverses "2026-12-01")."""
    return _LTR_RUN.sub(lambda match: f"\u2066{match.group(0)}\u2069", text)


class FontsMissing(Exception):
    """The letter's fonts are not installed (Debian package fonts-noto-core)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


def missing_fonts(font_dir: str | Path) -> list[str]:
    return [name for name in FONT_FILES.values() if not (Path(font_dir) / name).is_file()]


def letter_pdf(text: LetterText, *, font_dir: str | Path = DEFAULT_FONT_DIR) -> bytes:
    """The letter's PDF bytes; FontsMissing when the fonts are not installed."""
    missing = missing_fonts(font_dir)
    if missing:
        raise FontsMissing(missing)
    from webui.letter_layout import Letter  # fpdf2 only in the workers that print letters

    return Letter(text, Path(font_dir)).build()
