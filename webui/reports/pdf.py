"""The monthly report of a directorate (or of the ministry) as a PDF: headings and each figure as a table.

Laid out like the decision letter (webui/letters.py): fpdf2, one DejaVu font for both scripts, HarfBuzz
shaping Arabic; in Arabic the page and every table run from right to left.
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import gettext as _
from fpdf import FPDF

from registry.reports.services import Dashboard
from webui.letters import DEFAULT_FONT_DIR, FAMILY, FONT_FILES, FontsMissing, isolate_ltr_runs, missing_fonts
from webui.reports.tables import ReportTable

ROW_HEIGHT = 6.5
FIRST_SHARE = 0.38


class _Report(FPDF):
    def __init__(self, *, lang: str, title: str, footer_text: str, font_dir: Path) -> None:
        super().__init__(format="A4")
        self.rtl = lang == "ar"
        self.footer_text = footer_text
        for style, name in FONT_FILES.items():
            self.add_font(FAMILY, style, str(font_dir / name))
        self.set_text_shaping(use_shaping_engine=True, direction="rtl" if self.rtl else "ltr")
        self.set_margins(16, 16, 16)
        self.set_auto_page_break(True, margin=16)
        self.set_title(title)
        self.set_lang(lang)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.footer_text} · {self.page_no()}", align="C")
        self.set_text_color(0)

    def _words(self, text: str) -> str:
        return isolate_ltr_runs(text) if self.rtl else text

    def paragraph(self, text: str, *, size: float = 10, style: str = "", gap: float = 1.5) -> None:
        self.set_font(FAMILY, style, size)
        self.multi_cell(0, size * 0.5, self._words(text), align="R" if self.rtl else "L", new_x="LMARGIN",
                        new_y="NEXT")
        self.ln(gap)

    def figure_table(self, table: ReportTable) -> None:
        """The table's rows; in Arabic its columns run from right to left like the page."""
        width = self.w - self.l_margin - self.r_margin
        first = width * FIRST_SHARE if table.columns else width
        rest = (width - first) / max(len(table.columns), 1)
        widths = [first] + [rest] * len(table.columns)
        if self.will_page_break(ROW_HEIGHT * (min(len(table.rows), 3) + 4)):
            self.add_page()
        self.paragraph(table.title, size=12, style="B", gap=0.5)
        self.paragraph(table.note, size=8.5, gap=1)
        self.set_fill_color(232, 238, 245)
        self._row([table.first_header, *table.columns], widths, style="B", fill=True)
        if not table.rows:
            self._row([_("Nothing in this period."), *[""] * len(table.columns)], widths)
        for name, values in table.rows:
            self._row([name, *(_number(v) for v in values)], widths)
        self.ln(4)

    def _row(self, cells: list[str], widths: list[float], *, style: str = "", fill: bool = False) -> None:
        if self.will_page_break(ROW_HEIGHT):
            self.add_page()
        self.set_font(FAMILY, style, 8.5)
        order = list(zip(cells, widths, strict=True))
        if self.rtl:
            order.reverse()
        for index, (text, width) in enumerate(order):
            is_name = (index == len(order) - 1) if self.rtl else index == 0
            align = ("R" if self.rtl else "L") if is_name else "C"
            self.cell(width, ROW_HEIGHT, self._words(_fit(text, width)), border=1, align=align, fill=fill)
        self.ln(ROW_HEIGHT)


def _fit(text: str, width: float) -> str:
    """A cell's words cut to what fits its width (about 1.7 mm a character at this size)."""
    room = max(int(width / 1.7), 4)
    return text if len(text) <= room else text[:room - 1] + "…"


def _number(value: float | int | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def monthly_report_pdf(board: Dashboard, tables: list[ReportTable], *, lang: str,
                       font_dir: str | Path = DEFAULT_FONT_DIR) -> bytes:
    """The report's PDF bytes (words in the current Babel locale); FontsMissing without the fonts."""
    missing = missing_fonts(font_dir)
    if missing:
        raise FontsMissing(missing)
    who = ", ".join(d.name(lang) for d in board.chosen) if len(board.chosen) == 1 else _("All directorates")
    title = _("Monthly report: %(who)s, %(month)s", who=who, month=board.period.month_key)
    pdf = _Report(lang=lang, title=title, footer_text=_("Ministry of Social Development"), font_dir=Path(font_dir))
    pdf.add_page()
    pdf.paragraph(_("Ministry of Social Development"), size=10, gap=1)
    pdf.set_draw_color(40, 90, 140)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(3)
    pdf.paragraph(title, size=15, style="B", gap=2)
    pdf.paragraph(_("Period: %(first)s to %(last)s", first=board.period.first.isoformat(),
                    last=board.period.last.isoformat()), size=9.5, gap=0.5)
    pdf.paragraph(_("Figures as of %(when)s (UTC)", when=board.now.strftime("%Y-%m-%d %H:%M")), size=9.5, gap=4)
    for table in tables:
        pdf.figure_table(table)
    return bytes(pdf.output())
