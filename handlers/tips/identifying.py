"""Spotting what would identify the reporter in their own text (warned at the review step, never blocked).

A tip is anonymous only if its text is: a reporter who writes "no hp saya 0812…" or "saya tinggal di Jl. …"
tells Bawaslu (and anyone who later sees the export) who they are. The checks are deliberately simple and
lean towards warning; the reporter decides.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Finding(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    NIK = "nik"  # 16-digit national identity number
    SELF = "self"  # "rumah saya", "saya tinggal di", "nama saya" …


_PHONE = re.compile(r"(?<![\d+])(?:\+?62|0)[\s.\-]?8(?:[\s.\-]?\d){7,11}(?!\d)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
# First-person phrases that point at the reporter's home, name or number (formal and chat spellings).
_ME = r"(?:saya|sy|aku|gue|gw|kami)"
_SELF = re.compile(
    rf"\b(?:(?:rumah|alamat|nama|nomor|nomer|no\.?\s*hp|hp|wa|kontak|kantor)\s+{_ME}"
    rf"|{_ME}\s+(?:tinggal|tnggl|tinggl)\s+di|{_ME}\s+(?:adalah|bernama)\s+\w+)\b",
    re.IGNORECASE,
)


def findings(text: str) -> list[Finding]:
    """What in ``text`` could identify its author, in a fixed order (empty when nothing)."""
    out = []
    if _PHONE.search(text):
        out.append(Finding.PHONE)
    if _EMAIL.search(text):
        out.append(Finding.EMAIL)
    if _NIK.search(text):
        out.append(Finding.NIK)
    if _SELF.search(text):
        out.append(Finding.SELF)
    return out
