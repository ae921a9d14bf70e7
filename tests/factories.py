"""Builders of realistic submissions for tests; national IDs carry a correct check digit."""

from __future__ import annotations

import base64
import itertools
import re
import struct
import zlib
from typing import Any

_serial = itertools.count(10_000_001)


def with_check_digit(first_eight: str) -> str:
    total = 0
    for position, char in enumerate(first_eight):
        product = int(char) * (1 if position % 2 == 0 else 2)
        total += product - 9 if product > 9 else product
    return first_eight + str((10 - total % 10) % 10)


def national_id() -> str:
    """A fresh valid national ID, different on every call."""
    return with_check_digit(f"{next(_serial) % 100_000_000:08d}")


def member(relation: str = "head", **overrides: Any) -> dict[str, Any]:
    person = {
        "national_id": national_id(), "name_ar": "أحمد محمود عودة", "name_latin": "Ahmad Odeh",
        "relation": relation, "sex": "male", "birth_date": "1980-03-14", "marital_status": "married",
        "disability": False, "chronic_illness": False, "health_insurance": True,
        "schooling": "secondary", "work": "unemployed",
    }
    person.update(overrides)
    return person


def registration(**overrides: Any) -> dict[str, Any]:
    """A complete registration of a poor household of four in Ramallah."""
    head = member()
    members = overrides.pop("members", None) or [
        head,
        member("spouse", name_ar="فاطمة يوسف حمدان", name_latin="Fatima Hamdan", sex="female",
               birth_date="1984-07-02", work="not_in_labour_force", health_insurance=False),
        member("son", name_ar="محمد أحمد عودة", sex="male", birth_date="2012-01-20", marital_status="single",
               schooling="dropped_out", work="student"),
        member("daughter", name_ar="مريم أحمد عودة", sex="female", birth_date="2016-05-11", marital_status="single",
               schooling="enrolled", work="student", disability=True),
    ]
    data: dict[str, Any] = {
        "consent_data_exchange": True,
        "head_national_id": members[0]["national_id"],
        "phone": "0599123456",
        "governorate": "PS-RBH",
        "locality": "البيرة",
        "address": "حي أم الشرايط",
        "members": members,
        "reasons": ["loss_of_income", "illness"],
        "reasons_details": "The father lost his job; the daughter needs treatment.",
        "monthly_income": 700,
        "dwelling_type": "apartment", "dwelling_tenure": "rented", "rooms": 1,
        "damp_or_leaking": True, "water_source": "tanker", "sanitation": "cesspit",
        "electricity": True, "cooking_fuel": "gas", "assets": ["refrigerator"],
        "services_hard_to_reach": ["health_centre"], "unmet_medical_needs": True,
        "feels_unsafe": False, "violence_in_household": False, "movement_restricted": False,
    }
    data.update(overrides)
    return data


PLAN = {
    "goals": "Regular income and treatment for the daughter.",
    "interventions": [
        {"description": "Monthly cash transfer", "area": "cash", "provider_type": "ministry",
         "provider_name": "Cash Transfer Programme", "due_date": "2026-12-01"},
        {"description": "Vocational training for the father", "area": "empowerment", "provider_type": "partner",
         "provider_name": "Vocational Training Centre", "due_date": "2027-01-15"},
    ],
    "plan_start_date": "2026-11-10",
    "plan_end_date": "2027-02-10",
    "household_agreed": True,
}


# --- documents: small files that are what they claim to be -------------------------------------

def pdf_document(text: str = "proof of income") -> bytes:
    """A well-formed one-page PDF: header, objects, cross-reference table, trailer and %%EOF."""
    words = re.sub(r"[()\\]", "", text)
    stream = f"BT /F1 12 Tf 72 720 Td ({words}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def png_image(width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG (signature, IHDR, IDAT, IEND, each chunk with its CRC)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = b"".join(b"\x00" + b"\xc8\x1e\x1e" * width for _row in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))


#: A 16x12 baseline JPEG written by a real encoder (libjpeg through Pillow), 670 bytes.
JPEG_IMAGE = base64.b64decode(
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19i'
    'Z2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj'
    'Y2NjY2NjY2P/wAARCAAMABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUF'
    'BAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVW'
    'V1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi'
    '4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAEC'
    'AxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVm'
    'Z2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq'
    '8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDE2lPuDI/uk/y/wpysGGVOf6UtMl+VGkU4ZRn6+xrCP718r37/AOZ9I/3autj/2Q=='
)
