"""The decision letter's layout (webui/letters.py says why fpdf2 and DejaVu).

A module of its own, imported only when a letter is printed: fpdf2 brings numpy, Pillow, fontTools,
HarfBuzz and cryptography with it, about 36 MB that no other request needs.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from webui.explanations import LetterText
from webui.letters import FAMILY, FONT_FILES, isolate_ltr_runs


class Letter(FPDF):
    """One decision letter on A4, right to left in Arabic."""

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
