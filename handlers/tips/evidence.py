"""Evidence handling for tips: metadata stripping of images and validation of links.

Images (JPEG, PNG, WebP and anything else Pillow decodes) are re-encoded from pixels only: the EXIF block
(camera, owner name, GPS position), XMP, text chunks and ICC data are dropped; the EXIF orientation is
applied first so the picture still looks right. Videos and non-image documents are kept as they are —
their metadata is NOT stripped (the group message says so). The SHA-256 of the original bytes is kept so
Bawaslu can later match a file the reporter hands over in person.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import logging
import re
import tomllib
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow logs every EXIF tag it parses at DEBUG (owner names, GPS positions): never let that reach the logs.
for _name in ("PIL.TiffImagePlugin", "PIL.Image", "PIL.JpegImagePlugin", "PIL.PngImagePlugin"):
    logging.getLogger(_name).setLevel(logging.WARNING)

MAX_PIXELS = 60_000_000  # refuse to decode larger images (decompression bombs)
MAX_LINK_CHARS = 400

_FORMATS = {"JPEG": ("JPEG", "image/jpeg", "jpg"), "PNG": ("PNG", "image/png", "png"),
            "WEBP": ("WEBP", "image/webp", "webp")}
_PASSTHROUGH_EXT = {
    "application/pdf": "pdf", "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
    "application/msword": "doc", "text/plain": "txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "audio/ogg": "ogg", "audio/mpeg": "mp3",
}


@dataclass(frozen=True)
class Evidence:
    data: bytes
    content_type: str
    ext: str
    stripped: bool  # True: metadata removed (re-encoded image); False: stored as received
    sha256_original: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def strip_image(data: bytes) -> tuple[bytes, str, str] | None:
    """Re-encode an image without metadata: (bytes, content type, extension); None if not a usable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > MAX_PIXELS:
                    return None
                fmt = (img.format or "").upper()
                img.load()
                out = ImageOps.exif_transpose(img)  # applies (and removes) the orientation tag
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, ValueError, SyntaxError):
        return None
    save_fmt, ctype, ext = _FORMATS.get(fmt, _FORMATS["PNG"])
    clean = out.copy()
    clean.info = {}  # no exif, icc_profile, xmp, text chunks, comments …
    if save_fmt == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = clean.convert("RGB")
    elif save_fmt == "PNG" and clean.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I", "I;16"):
        clean = clean.convert("RGBA")
    elif save_fmt == "WEBP" and clean.mode not in ("RGB", "RGBA"):
        clean = clean.convert("RGBA" if "A" in clean.mode else "RGB")
    buf = io.BytesIO()
    kwargs: dict[str, object] = {"quality": 90} if save_fmt in ("JPEG", "WEBP") else {}
    clean.save(buf, save_fmt, **kwargs)
    return buf.getvalue(), ctype, ext


def prepare(data: bytes, content_type: str, kind: str) -> Evidence:
    """Evidence ready to store and forward: images stripped, everything else kept as is."""
    digest = sha256(data)
    looks_image = kind == "photo" or content_type.startswith("image/")
    if looks_image:
        result = strip_image(data)
        if result is not None:
            clean, ctype, ext = result
            return Evidence(clean, ctype, ext, True, digest)
    ext = _PASSTHROUGH_EXT.get(content_type.split(";")[0].strip().lower(), "bin")
    if kind == "video" and ext == "bin":
        ext = "mp4"
    return Evidence(data, content_type or "application/octet-stream", ext, False, digest)


# --- links ----------------------------------------------------------------------------------------

KNOWN_HOSTS: dict[str, str] = {
    "facebook.com": "Facebook", "fb.com": "Facebook", "fb.watch": "Facebook", "fb.me": "Facebook",
    "instagram.com": "Instagram", "instagr.am": "Instagram",
    "tiktok.com": "TikTok",
    "x.com": "X/Twitter", "twitter.com": "X/Twitter", "t.co": "X/Twitter",
    "youtube.com": "YouTube", "youtu.be": "YouTube",
    "wa.me": "WhatsApp", "whatsapp.com": "WhatsApp",
    "t.me": "Telegram", "telegram.me": "Telegram",
    "threads.net": "Threads", "threads.com": "Threads",
    "linkedin.com": "LinkedIn",
}
OTHER_LABEL = "tautan lain"
_URLISH = re.compile(r"^(?:[a-z][a-z0-9+.\-]*:|www\.)", re.IGNORECASE)
_HOST_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class Link:
    url: str
    label: str  # platform name, or OTHER_LABEL


def check_link(text: str) -> Link | None:
    """A valid evidence link, or None.

    Accepts http(s) URLs of known social-media hosts and any other https URL (labelled "tautan lain").
    Rejects other schemes (javascript:, data:, file: …), IP addresses, credentials in the URL, bad hosts.
    A bare "www.…" or "instagram.com/…" gets https:// prepended.
    """
    raw = text.strip().strip("<>")
    if not raw or len(raw) > MAX_LINK_CHARS or any(c.isspace() or ord(c) < 32 for c in raw):
        return None
    if "://" not in raw:
        if re.match(r"^[a-z][a-z0-9+.\-]*:", raw, re.IGNORECASE) and not raw.lower().startswith("www."):
            host_part = raw.split(":", 1)[0]
            if "." not in host_part:
                return None  # javascript:, data:, mailto: …
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower().rstrip(".")
        _ = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or parts.username or parts.password:
        return None
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if not _HOST_RE.match(host):
        return None
    label = _known(host)
    if label is None:
        if scheme != "https":
            return None
        label = OTHER_LABEL
    return Link(strip_tracking(raw), label)


TRACKING_FILE = Path(__file__).with_name("tracking-params.toml")


@cache
def _tracking() -> tuple[frozenset[str], tuple[str, ...], dict[str, frozenset[str]]]:
    data = tomllib.loads(TRACKING_FILE.read_text(encoding="utf-8"))
    common = data.get("all", {})
    hosts = {h.lower(): frozenset(n.lower() for n in v.get("names", [])) for h, v in data.get("hosts", {}).items()}
    return (frozenset(n.lower() for n in common.get("names", [])),
            tuple(p.lower() for p in common.get("prefixes", [])), hosts)


def strip_tracking(url: str) -> str:
    """The URL without the query parameters that tie a shared link to its sharer (``tracking-params.toml``)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    names, prefixes, hosts = _tracking()
    host = (parts.hostname or "").lower()
    drop = set(names)
    for domain, extra in hosts.items():
        if host == domain or host.endswith("." + domain):
            drop |= extra
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in drop and not k.lower().startswith(prefixes)]
    return urlunsplit(parts._replace(query=urlencode(kept, doseq=True)))


def _known(host: str) -> str | None:
    for domain, label in KNOWN_HOSTS.items():
        if host == domain or host.endswith("." + domain):
            return label
    return None


def looks_like_link(token: str) -> bool:
    """Whether a word is meant as a link (so a bad one gets an explanation instead of being ignored)."""
    t = token.strip().strip("<>").lower()
    return bool(_URLISH.match(t)) or "://" in t or bool(re.match(r"^[a-z0-9\-]+(\.[a-z0-9\-]+)+/", t))
