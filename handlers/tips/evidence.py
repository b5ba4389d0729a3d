"""Evidence handling for tips: metadata stripping and validation of links.

What a file is, is decided by its bytes, never by the type the sender declared (a photo sent "as a file"
arrives as ``application/octet-stream`` with its EXIF intact):

* images — anything Pillow decodes, HEIC/HEIF included (``pillow-heif``) — are re-encoded from pixels only:
  EXIF (camera, owner name, GPS position), XMP, text chunks and ICC data are dropped; the EXIF orientation
  is applied first so the picture still looks right; a JPEG too big to decode (``MAX_PIXELS``) loses them
  without being decoded (``strip_jpeg_segments``);
* PDFs (``pikepdf``): the document information (author, creator tool, dates), the XMP metadata, editors'
  private data (``/PieceInfo``) and comment authors go, and embedded JPEG photos lose their EXIF/XMP/IPTC
  segments (losslessly, ``strip_jpeg_segments``);
* Office documents (docx/xlsx/pptx): the core, app and custom properties are replaced by empty ones,
  comment / tracked-change author names (Word, Excel, PowerPoint) and shared-workbook user names are blanked,
  local paths (the folder a workbook was saved in, an attached template in the user's profile) emptied, and
  embedded JPEG photos lose their EXIF like those in PDFs;
* videos: stripped with ffmpeg (``-map_metadata -1``, no re-encoding) when ffmpeg is installed;
* anything else is kept as received and marked ``stripped=False``: the reporter is told before sending
  (and may drop it) and the group message says so.

The stored evidence is the stripped copy plus the SHA-256 of the original bytes, so Bawaslu can later match a
file the reporter hands over in person; the original itself is not kept.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import logging
import re
import shutil
import subprocess
import tempfile
import tomllib
import warnings
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.texts import t

try:  # HEIC/HEIF (iPhone photos): a maintained Pillow plugin
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - the dependency is declared; only a broken install lacks it
    HEIF = False
try:
    import pikepdf
except ImportError:  # pragma: no cover
    pikepdf = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Pillow logs every EXIF tag it parses at DEBUG (owner names, GPS positions): never let that reach the logs.
for _name in ("PIL.TiffImagePlugin", "PIL.Image", "PIL.JpegImagePlugin", "PIL.PngImagePlugin", "pillow_heif"):
    logging.getLogger(_name).setLevel(logging.WARNING)

MAX_PIXELS = 60_000_000  # refuse to decode larger images (decompression bombs)
MAX_LINK_CHARS = 400
FFMPEG_TIMEOUT = 120.0

_FORMATS = {"JPEG": ("JPEG", "image/jpeg", "jpg"), "PNG": ("PNG", "image/png", "png"),
            "WEBP": ("WEBP", "image/webp", "webp"), "MPO": ("JPEG", "image/jpeg", "jpg"),
            "HEIF": ("JPEG", "image/jpeg", "jpg"), "AVIF": ("JPEG", "image/jpeg", "jpg")}
_PASSTHROUGH_EXT = {
    "application/pdf": "pdf", "video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm",
    "application/msword": "doc", "text/plain": "txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "audio/ogg": "ogg", "audio/mpeg": "mp3",
}
_OOXML = {  # first folder in the package -> (content type, extension)
    "word": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "xl": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "ppt": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
}
_EMPTY_PROPS = {
    "docProps/core.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties '
    b'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/"/>',
    "docProps/app.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties '
    b'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"/>',
    "docProps/custom.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties '
    b'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"/>',
}
_AUTHOR_ATTR = re.compile(rb'\b(w:author|w:initials|author|authorId|userId|w15:userId|w15:providerId)="[^"]*"')
# Elements that describe a person: Excel's and PowerPoint's comment authors (``xl/persons``, ``ppt/authors.xml``,
# ``ppt/commentAuthors.xml``), the users of a shared workbook (``xl/revisions/userNames.xml``), who reserved a
# workbook (``fileSharing``) and the folder it was saved in (``x15ac:absPath``: C:\Users\<account>\…); and
# the attributes of them that name that person.
_PERSON_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?(?:person|cmAuthor|author|userInfo|fileSharing|absPath)\s[^>]*>")
_PERSON_ATTR = re.compile(
    rb"""(\s(?:[\w.-]+:)?(?:name|displayName|initials|userName|userId|providerId|url))=(?:"[^"]*"|'[^']*')""")
_AUTHOR_TEXT = re.compile(rb"(<(?:[\w.-]+:)?author>)[^<]*(?=</)")  # Excel's legacy notes: <author>Name</author>
# A relationship to a local file (an attached template in the user's profile, a linked file): its path names
# the account; the file is on the author's machine only anyway.
_LOCAL_TARGET = re.compile(rb"""(\sTarget=)(["'])(?:file:|[A-Za-z]:\\|\\\\)[^"']*\2""", re.IGNORECASE)


@dataclass(frozen=True)
class Evidence:
    data: bytes
    content_type: str
    ext: str
    stripped: bool  # True: metadata removed; False: stored as received (metadata may remain)
    sha256_original: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def strippable(kind: str, content_type: str) -> bool:
    """Whether a file of this declared kind and type is expected to be stripped (told at the review step;
    the bytes still decide at submission)."""
    ctype = content_type.split(";")[0].strip().lower()
    if kind == "photo" or ctype.startswith("image/") or ctype in ("", "application/octet-stream"):
        return True  # untyped files: the bytes decide at submission (the reporter is asked then if need be)
    if ctype == "application/pdf":
        return pikepdf is not None
    if ctype in {c for c, _ in _OOXML.values()}:
        return True
    if kind == "video" or ctype.startswith("video/"):
        return ffmpeg() is not None
    return False


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


_JPEG_KEPT_APP = (0xE0, 0xEE)  # JFIF, Adobe (colour transform); APP2 only for an ICC profile


def strip_jpeg_segments(data: bytes) -> bytes | None:
    """A JPEG without EXIF and XMP (APP1), IPTC (APP13), the other application segments, comments and what follows
    the image (MPO's second pictures carry EXIF of their own), losslessly: the compressed picture is copied as
    it is, and of the EXIF only the orientation is kept (a minimal EXIF block), so the picture stays the right
    way up. None if ``data`` is not a well-formed JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    first: list[bytes] = []  # JFIF (APP0) segments: they come first
    rest: list[bytes] = []
    orientation = None
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # end of image before any scan
            return None
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > n:
            return None
        segment = data[i : i + 2 + length]
        if marker == 0xDA:  # start of scan: the rest is picture data up to the end-of-image marker
            end = data.find(b"\xff\xd9", i + 2 + length)
            head = [b"\xff\xd8", *first]
            if orientation not in (None, 1):
                exif = Image.Exif()
                exif[0x0112] = orientation
                payload = exif.tobytes()
                head.append(b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload)
            return b"".join([*head, *rest, data[i:] if end < 0 else data[i : end + 2]])
        if marker == 0xE1 and segment[4:10] == b"Exif\x00\x00" and orientation is None:
            orientation = _orientation(segment[4:])
        application = 0xE0 <= marker <= 0xEF
        icc = marker == 0xE2 and segment[4:16] == b"ICC_PROFILE\x00"
        if marker == 0xE0:
            first.append(segment)
        elif not ((application and marker not in _JPEG_KEPT_APP and not icc) or marker == 0xFE):
            rest.append(segment)
        i += 2 + length
    return None


def _orientation(exif_block: bytes) -> int | None:
    """The orientation tag of an APP1 EXIF block (None when absent or unreadable)."""
    exif = Image.Exif()
    try:
        exif.load(exif_block)
        value = exif.get(0x0112)
    except Exception:  # Pillow raises assorted errors for damaged EXIF
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def strip_pdf(data: bytes) -> bytes | None:
    """The PDF without its document information and XMP metadata; None if it is not a readable PDF."""
    if pikepdf is None or not data.startswith(b"%PDF"):
        return None
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
                for key in list(meta.keys()):
                    del meta[key]
            if "/Metadata" in pdf.Root:
                del pdf.Root.Metadata
            if "/Info" in pdf.trailer:
                del pdf.trailer.Info
            if "/PieceInfo" in pdf.Root:  # an editor's private data
                del pdf.Root.PieceInfo
            for page in pdf.pages:
                for key in ("/Metadata", "/PieceInfo"):
                    if key in page.obj:
                        del page.obj[key]
                for annot in page.obj.get("/Annots", []):
                    # a comment's /T is its author (a form field's /T is the field's name)
                    if isinstance(annot, pikepdf.Dictionary) and annot.get("/Subtype") != pikepdf.Name.Widget:
                        for key in ("/T", "/M"):
                            if key in annot:
                                del annot[key]
            for obj in pdf.objects:  # photos embedded as they were (img2pdf, scanner apps) keep their EXIF
                if (isinstance(obj, pikepdf.Stream) and obj.get("/Subtype") == pikepdf.Name.Image
                        and obj.get("/Filter") == pikepdf.Name.DCTDecode):
                    raw = bytes(obj.read_raw_bytes())
                    clean = strip_jpeg_segments(raw)
                    if clean is not None and clean != raw:
                        obj.write(clean, filter=pikepdf.Name.DCTDecode)
            out = io.BytesIO()
            pdf.save(out, fix_metadata_version=False, deterministic_id=True)
            return out.getvalue()
    except Exception as exc:  # pikepdf raises its own error types for broken or encrypted files
        log.info("pdf metadata not stripped", extra={"error": type(exc).__name__})
        return None


def _scrub_xml(body: bytes) -> bytes:
    """An Office package part without the names of people and local paths (see ``_PERSON_ELEMENT``)."""
    body = _AUTHOR_ATTR.sub(rb'\1=""', body)
    body = _PERSON_ELEMENT.sub(lambda m: _PERSON_ATTR.sub(rb'\1=""', m.group(0)), body)
    body = _AUTHOR_TEXT.sub(rb"\1", body)
    return _LOCAL_TARGET.sub(rb"\1\2\2", body)


def strip_ooxml(data: bytes) -> tuple[bytes, str, str] | None:
    """A docx/xlsx/pptx without author properties: (bytes, content type, extension), or None."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            names = src.namelist()
            if "[Content_Types].xml" not in names:
                return None
            kind = next((v for k, v in _OOXML.items() if any(n.startswith(k + "/") for n in names)), None)
            if kind is None:
                return None
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
                for info in src.infolist():
                    if info.filename in _EMPTY_PROPS:
                        body = _EMPTY_PROPS[info.filename]
                    else:
                        body = src.read(info)
                        if info.filename.endswith((".xml", ".rels")):
                            body = _scrub_xml(body)
                        elif info.filename.lower().endswith((".jpg", ".jpeg")):  # a pasted photo keeps its EXIF
                            body = strip_jpeg_segments(body) or body
                    dst.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), body,
                                 compress_type=zipfile.ZIP_DEFLATED)
            return out.getvalue(), kind[0], kind[1]
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError):
        return None


def strip_video(data: bytes) -> bytes | None:
    """The video with its container metadata removed (ffmpeg, streams copied); None without ffmpeg or on error."""
    exe = ffmpeg()
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "in", Path(d) / "out.mp4"
        src.write_bytes(data)
        try:
            subprocess.run(  # noqa: S603 - fixed arguments, no shell
                [exe, "-nostdin", "-loglevel", "error", "-i", str(src), "-map", "0", "-map_metadata", "-1",
                 "-map_chapters", "-1", "-c", "copy", "-movflags", "+faststart", str(dst)],
                check=True, capture_output=True, timeout=FFMPEG_TIMEOUT,
            )
        except (subprocess.SubprocessError, OSError):
            return None
        return dst.read_bytes()


def prepare(data: bytes, content_type: str, kind: str) -> Evidence:
    """Evidence ready to store and forward, stripped by what the bytes are (see the module docstring)."""
    digest = sha256(data)
    image = strip_image(data)
    if image is not None:
        clean, ctype, ext = image
        return Evidence(clean, ctype, ext, True, digest)
    jpeg = strip_jpeg_segments(data)  # a JPEG too big to decode (or damaged): its metadata goes all the same
    if jpeg is not None:
        return Evidence(jpeg, "image/jpeg", "jpg", True, digest)
    pdf = strip_pdf(data)
    if pdf is not None:
        return Evidence(pdf, "application/pdf", "pdf", True, digest)
    office = strip_ooxml(data) if zipfile.is_zipfile(io.BytesIO(data)) else None
    if office is not None:
        clean, ctype, ext = office
        return Evidence(clean, ctype, ext, True, digest)
    declared = content_type.split(";")[0].strip().lower()
    if kind == "video" or declared.startswith("video/"):
        video = strip_video(data)
        if video is not None:
            return Evidence(video, "video/mp4", "mp4", True, digest)
    ext = _PASSTHROUGH_EXT.get(declared, "bin")
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
OTHER_LABEL = t("evidence.other_link")  # the label of a link whose host is not a known platform
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
def _tracking_file() -> dict[str, Any]:
    return tomllib.loads(TRACKING_FILE.read_text(encoding="utf-8"))


def _on_host(host: str, domain: str) -> bool:
    """``host`` is ``domain`` or one of its subdomains."""
    return host == domain or host.endswith("." + domain)


@cache
def _tracking() -> tuple[frozenset[str], tuple[str, ...], dict[str, frozenset[str]]]:
    data = _tracking_file()
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
        if _on_host(host, domain):
            drop |= extra
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in drop and not k.lower().startswith(prefixes)]
    return urlunsplit(parts._replace(query=urlencode(kept, doseq=True)))


@cache
def _share_prefixes() -> tuple[tuple[str, str], ...]:
    out = []
    for entry in _tracking_file().get("share_links", {}).get("prefixes", []):
        host, _, path = str(entry).lower().partition("/")
        out.append((host, "/" + path))
    return tuple(out)


def is_share_short_link(url: str) -> bool:
    """Whether ``url`` is a short link made by a platform's Share button (``[share_links]`` in
    ``tracking-params.toml``): the redirect behind it may name the account that shared it."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path.lower() or "/"
    return any(_on_host(host, h) and path.startswith(p) for h, p in _share_prefixes())


def _known(host: str) -> str | None:
    for domain, label in KNOWN_HOSTS.items():
        if _on_host(host, domain):
            return label
    return None


def looks_like_link(token: str) -> bool:
    """Whether a word is meant as a link (so a bad one gets an explanation instead of being ignored)."""
    t = token.strip().strip("<>").lower()
    return bool(_URLISH.match(t)) or "://" in t or bool(re.match(r"^[a-z0-9\-]+(\.[a-z0-9\-]+)+/", t))
