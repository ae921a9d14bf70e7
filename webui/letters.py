"""The household's decision letter as a PDF: fpdf2 lays it out, HarfBuzz (uharfbuzz) shapes Arabic.

One font covers both scripts: DejaVu Sans from Debian's fonts-dejavu-core, found under LETTER_FONT_DIR
(``make run`` installs the package when it is missing). The Noto Arabic fonts lack Latin letters, dashes
and bullets, and fpdf2's per-character fallback between two fonts broke the order of whole Arabic lines.
Without the font the letter cannot be made and the page says so (FontsMissing), never printing boxes.
"""

from __future__ import annotations

import re
from pathlib import Path

from fpdf import FPDF

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


class _Letter(FPDF):
    def __init__(self, text: LetterText, font_dir: Path) -> None:
        super().__init__(format="A4")
        self.text = text
        self.rtl = text.lang == "ar"
        for style, name in FONT_FILES.items():
            self.add_font(FAMILY, style, str(font_dir / name))
        self.main = FAMILY
        # No script given: HarfBuzz finds it per run, so an Arabic name in the English letter is joined too.
        self.set_text_shaping(use_shaping_engine=True, direction="rtl" if self.rtl else "ltr")
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=18)
        self.set_title(text.title)
        self.set_lang(text.lang)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(self.main, "", 8)
        self.set_text_color(110)
        self.cell(0, 6, f"{self.text.letterhead} · {self.page_no()}", align="C")
        self.set_text_color(0)

    @property
    def align(self) -> str:
        return "R" if self.rtl else "L"

    def paragraph(self, words: str, *, size: float = 11, style: str = "", gap: float = 2.5) -> None:
        if not words:
            return
        self.set_font(self.main, style, size)
        if self.rtl:
            words = isolate_ltr_runs(words)
        self.multi_cell(0, size * 0.55, words, align=self.align, new_x="LMARGIN", new_y="NEXT")
        self.ln(gap)

    def bullets(self, heading: str, items: list[str]) -> None:
        if not items:
            return
        self.paragraph(heading, style="B", gap=1)
        for item in items:
            self.paragraph(f"• {item}", size=10.5, gap=0.8)
        self.ln(2)

    def build(self) -> bytes:
        t = self.text
        self.add_page()
        self.paragraph(t.letterhead, size=10, gap=1)
        self.set_draw_color(40, 90, 140)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.paragraph(t.title, size=15, style="B", gap=3)
        for name, value in t.meta:
            self.paragraph(f"{name}: {value}", size=10, gap=0.5)
        self.ln(4)
        self.paragraph(t.greeting)
        self.paragraph(t.result, style="B")
        self.paragraph(t.why)
        self.paragraph(t.status)
        self.paragraph(t.score_note, size=10)
        self.bullets(t.deprived_heading, t.deprived)
        self.bullets(t.unknown_heading, t.unknown)
        self.bullets(t.not_counted_heading, t.not_counted)
        self.ln(2)
        self.paragraph(t.review_heading, size=12.5, style="B")
        for words in t.review:
            self.paragraph(words)
        self.ln(4)
        self.paragraph(t.closing, style="B")
        return bytes(self.output())


def letter_pdf(text: LetterText, *, font_dir: str | Path = DEFAULT_FONT_DIR) -> bytes:
    """The letter's PDF bytes; FontsMissing when the fonts are not installed."""
    missing = missing_fonts(font_dir)
    if missing:
        raise FontsMissing(missing)
    return _Letter(text, Path(font_dir)).build()
