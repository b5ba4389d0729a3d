"""Metadata stripping, link validation and receipt codes."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image, PngImagePlugin

from handlers.tips import codes as tipcodes
from handlers.tips.evidence import OTHER_LABEL, check_link, prepare
from tests.handlers.tips.conftest import jpeg_with_gps


def test_jpeg_exif_and_gps_removed_orientation_kept() -> None:
    original = jpeg_with_gps(orientation=6, size=(40, 20))
    with Image.open(io.BytesIO(original)) as img:
        assert img.getexif().get_ifd(0x8825)  # the sample really has GPS
    ev = prepare(original, "image/jpeg", "photo")
    assert ev.stripped and ev.content_type == "image/jpeg" and ev.ext == "jpg"
    assert ev.sha256_original == hashlib.sha256(original).hexdigest()
    with Image.open(io.BytesIO(ev.data)) as img:
        assert len(img.getexif()) == 0 and "exif" not in img.info
        assert img.size == (20, 40)  # rotated as the orientation tag said
    assert b"Rahasiawati" not in ev.data and b"KameraRahasia" not in ev.data


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_metadata_removed(fmt: str) -> None:
    img = Image.new("RGBA", (8, 8), (1, 2, 3, 255))
    exif = Image.Exif()
    exif[0x013B] = "Siti Rahasiawati"
    buf = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Author", "Siti Rahasiawati")
        img.save(buf, fmt, pnginfo=info, exif=exif)
    else:
        img.save(buf, fmt, exif=exif)
    original = buf.getvalue()
    assert b"Rahasiawati" in original
    ev = prepare(original, f"image/{fmt.lower()}", "document")
    assert ev.stripped and b"Rahasiawati" not in ev.data
    with Image.open(io.BytesIO(ev.data)) as out:
        assert out.format == fmt and len(out.getexif()) == 0


def test_what_cannot_be_read_is_kept_as_is_and_marked() -> None:
    text = b"catatan saksi, ditulis oleh Siti"
    ev = prepare(text, "text/plain", "document")
    assert not ev.stripped and ev.data == text and ev.ext == "txt"
    broken = prepare(b"not really a jpeg", "image/jpeg", "photo")
    assert not broken.stripped
    assert prepare(b"\x00\x00", "video/mp4", "video").ext == "mp4"


def test_an_image_sent_as_an_untyped_file_is_stripped_by_its_content() -> None:
    original = jpeg_with_gps()
    ev = prepare(original, "application/octet-stream", "document")  # a photo sent "as file", no extension
    assert ev.stripped and ev.content_type == "image/jpeg" and ev.ext == "jpg"
    assert b"Rahasiawati" not in ev.data and b"KameraRahasia" not in ev.data
    with Image.open(io.BytesIO(ev.data)) as img:
        assert len(img.getexif()) == 0


def test_heic_metadata_removed() -> None:
    import pillow_heif

    img = Image.new("RGB", (32, 16), (10, 20, 200))
    exif = Image.Exif()
    exif[0x013B] = "Siti Rahasiawati"
    exif[0x8825] = {1: "S", 2: (0.0, 30.0, 0.0), 3: "E", 4: (117.0, 9.0, 0.0)}
    buf = io.BytesIO()
    img.save(buf, "HEIF", exif=exif.tobytes())
    original = buf.getvalue()
    assert pillow_heif.is_supported(original) and b"Rahasiawati" in original
    ev = prepare(original, "application/octet-stream", "document")
    assert ev.stripped and ev.content_type == "image/jpeg" and b"Rahasiawati" not in ev.data
    assert ev.sha256_original == hashlib.sha256(original).hexdigest()


def test_pdf_document_info_and_xmp_removed() -> None:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.docinfo["/Author"] = "Siti Rahasiawati"
    pdf.docinfo["/Creator"] = "KameraRahasia Scanner"
    with pdf.open_metadata() as meta:
        meta["dc:creator"] = ["Siti Rahasiawati"]
    buf = io.BytesIO()
    pdf.save(buf)
    original = buf.getvalue()
    assert b"Rahasiawati" in original
    ev = prepare(original, "application/pdf", "document")
    assert ev.stripped and ev.ext == "pdf" and b"Rahasiawati" not in ev.data and b"KameraRahasia" not in ev.data
    with pikepdf.open(io.BytesIO(ev.data)) as clean:
        assert len(clean.pages) == 1 and "/Author" not in clean.docinfo


def _docx(author: str) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("word/document.xml", f'<w:document><w:ins w:author="{author}">teks</w:ins></w:document>')
        z.writestr("docProps/core.xml", f"<cp:coreProperties><dc:creator>{author}</dc:creator>"
                                        f"<cp:lastModifiedBy>{author}</cp:lastModifiedBy></cp:coreProperties>")
        z.writestr("docProps/app.xml", f"<Properties><Company>Dinas {author}</Company></Properties>")
    return buf.getvalue()


def test_office_document_author_fields_removed() -> None:
    import zipfile

    original = _docx("Siti Rahasiawati")
    ev = prepare(original, "application/octet-stream", "document")
    assert ev.stripped and ev.ext == "docx" and "wordprocessingml" in ev.content_type
    with zipfile.ZipFile(io.BytesIO(ev.data)) as z:
        everything = b"".join(z.read(n) for n in z.namelist())
        assert b"teks" in z.read("word/document.xml")  # the content stays
    assert b"Rahasiawati" not in everything


def test_video_without_ffmpeg_is_marked_unstripped(monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers.tips import evidence

    monkeypatch.setattr(evidence, "ffmpeg", lambda: None)
    ev = prepare(b"\x00\x00\x00\x18ftypmp42 video with metadata", "video/mp4", "video")
    assert not ev.stripped and ev.ext == "mp4"
    assert not evidence.strippable("video", "video/mp4") and evidence.strippable("photo", "image/jpeg")
    assert evidence.strippable("document", "application/pdf") and not evidence.strippable("document", "text/plain")


@pytest.mark.parametrize(("text", "label"), [
    ("https://www.instagram.com/p/abc", "Instagram"),
    ("http://m.facebook.com/story.php?id=1", "Facebook"),
    ("https://vt.tiktok.com/ZS123/", "TikTok"),
    ("https://x.com/akun/status/1", "X/Twitter"),
    ("https://twitter.com/akun", "X/Twitter"),
    ("youtu.be/abc", "YouTube"),
    ("https://wa.me/6281234", "WhatsApp"),
    ("https://berita.example.id/artikel", OTHER_LABEL),
])
def test_valid_links(text: str, label: str) -> None:
    link = check_link(text)
    assert link is not None and link.label == label and link.url.startswith("http")


@pytest.mark.parametrize("text", [
    "javascript:alert(1)", "JAVASCRIPT://x.com/%0Aalert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd",
    "http://berita.example.id/a",  # unknown host without https
    "https://127.0.0.1/x", "https://user:pw@instagram.com/", "https://exa mple.com", "asdf", "https://",
    "https://x" * 100,
])
def test_invalid_links(text: str) -> None:
    assert check_link(text) is None


def test_receipt_codes() -> None:
    codes = {tipcodes.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:200]:
        assert len(code) == 12 and code.startswith("JN-") and code[7] == "-"
        assert not set(code[3:7] + code[8:]) & set("01OIL")
        assert tipcodes.normalize(code.lower().replace("-", " ")) == code
    assert tipcodes.normalize("JN-0000-OOOO") is None
    assert tipcodes.normalize("JN-ABC") is None


@pytest.mark.parametrize(("shared", "stored"), [
    ("https://www.instagram.com/p/C1abc/?igsh=MTc4MmM1YmI2Ng==", "https://www.instagram.com/p/C1abc/"),
    ("https://vt.tiktok.com/ZS2abc/?_t=8kQ&_r=1", "https://vt.tiktok.com/ZS2abc/"),
    ("https://youtu.be/abc?si=XyZ123", "https://youtu.be/abc"),
    ("https://www.youtube.com/watch?v=abc&t=42&si=x", "https://www.youtube.com/watch?v=abc&t=42"),  # t: a time
    ("https://x.com/akun/status/1?s=20&t=Ab12", "https://x.com/akun/status/1"),
    ("https://m.facebook.com/story.php?story_fbid=9&id=1&mibextid=Nif5oz",
     "https://m.facebook.com/story.php?story_fbid=9&id=1"),
    ("https://berita.example.id/a?id=5&utm_source=wa&utm_medium=share&fbclid=IwAR0&gclid=x",
     "https://berita.example.id/a?id=5"),
    ("https://www.tiktok.com/@warga/video/999", "https://www.tiktok.com/@warga/video/999"),
])
def test_links_lose_their_sharer_tracking_parameters(shared: str, stored: str) -> None:
    link = check_link(shared)
    assert link is not None and link.url == stored


def test_the_tracking_list_is_data() -> None:
    import tomllib

    from handlers.tips.evidence import TRACKING_FILE

    data = tomllib.loads(TRACKING_FILE.read_text(encoding="utf-8"))
    assert "utm_" in data["all"]["prefixes"] and "fbclid" in data["all"]["names"]
    assert {"s", "t"} <= set(data["hosts"]["x.com"]["names"]) and "si" in data["hosts"]["youtu.be"]["names"]
    assert all(isinstance(n, str) and n for v in data["hosts"].values() for n in v["names"])


@pytest.mark.parametrize(("text", "found"), [
    ("no hp saya 081234567890", ["phone", "self"]),
    ("hubungi +62 812-3456-7890", ["phone"]),
    ("wa 6281298765432", ["phone"]),
    ("email: pelapor.x@gmail.com", ["email"]),
    ("NIK 6402012345678901", ["nik"]),
    ("rumah saya dekat lokasi", ["self"]),
    ("sy tinggal di gang mawar", ["self"]),
    ("Mobil dinas KT 1234 X dipakai 28 nov pukul 16.30", []),
    ("Kampanye 2024 di kantor camat, 300 orang hadir", []),
    ("NIP 198501012010011001 (18 angka)", []),
])
def test_identifying_text_is_spotted(text: str, found: list[str]) -> None:
    from handlers.tips.identifying import findings

    assert findings(text) == found


def _ooxml(parts: dict[str, str | bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        for name, body in parts.items():
            z.writestr(name, body)
    return buf.getvalue()


NAME = "Siti Rahasiawati"
WIN_USER = "sitirahasia"  # the Windows account name in paths Office writes


@pytest.mark.parametrize(("parts", "kept"), [
    pytest.param({  # Excel: legacy notes list their authors as element text; threaded comments name persons
        "xl/workbook.xml": "<workbook><sheets/></workbook>",
        "xl/comments1.xml": f"<comments><authors><author>{NAME}</author><author>tc={{1A2B}}</author></authors>"
                            '<commentList><comment ref="A1" authorId="0"><text><t>catatan</t></text></comment>'
                            "</commentList></comments>",
        "xl/persons/person.xml": f'<personList><person displayName="{NAME}" id="{{1A2B}}" userId="{WIN_USER}" '
                                 'providerId="None"/></personList>',
        "xl/revisions/userNames.xml": f'<users count="1"><userInfo guid="{{9}}" name="{NAME}" id="1" '
                                      'dateTime="2024-01-01T00:00:00"/></users>',
    }, b"catatan", id="xlsx-comment-authors"),
    pytest.param({  # Excel: the folder the workbook was saved in, and who reserved it for sharing
        "xl/workbook.xml": '<workbook><fileSharing userName="' + NAME + '" reservationPassword="CC3D"/>'
                           '<mc:AlternateContent><mc:Choice Requires="x15"><x15ac:absPath '
                           f'url="C:\\Users\\{WIN_USER}\\Documents\\"/></mc:Choice></mc:AlternateContent>'
                           "<sheets/></workbook>",
    }, b"<sheets/>", id="xlsx-paths"),
    pytest.param({  # PowerPoint: legacy and modern comment authors
        "ppt/presentation.xml": "<p:presentation/>",
        "ppt/commentAuthors.xml": f'<p:cmAuthorLst><p:cmAuthor id="0" name="{NAME}" initials="SR" lastIdx="1" '
                                  'clrIdx="0"/></p:cmAuthorLst>',
        "ppt/authors.xml": f'<p188:authorLst><p188:author id="{{1A}}" name="{NAME}" initials="SR" '
                           f'userId="{WIN_USER}" providerId="None"/></p188:authorLst>',
    }, b'lastIdx="1"', id="pptx-comment-authors"),
    pytest.param({  # Word: the template attached from the user's profile folder
        "word/document.xml": "<w:document><w:body><w:p><w:r><w:t>teks</w:t></w:r></w:p></w:body></w:document>",
        "word/_rels/settings.xml.rels": '<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats'
                                        '.org/officeDocument/2006/relationships/attachedTemplate" Target="file:///'
                                        f'C:\\Users\\{WIN_USER}\\AppData\\Roaming\\Microsoft\\Templates\\Laporan.dotm"'
                                        ' TargetMode="External"/></Relationships>',
    }, b"attachedTemplate", id="docx-template-path"),
])
def test_office_comment_authors_and_local_paths_removed(parts: dict[str, str | bytes], kept: bytes) -> None:
    """Beyond the document properties: who wrote comments in a spreadsheet or a presentation, and the
    Windows account name in the paths Office records, are metadata too (the README promises Office files
    without their metadata)."""
    import zipfile

    original = _ooxml(parts)
    assert NAME.encode() in original or WIN_USER.encode() in original
    ev = prepare(original, "application/octet-stream", "document")
    assert ev.stripped
    with zipfile.ZipFile(io.BytesIO(ev.data)) as z:
        assert sorted(z.namelist()) == sorted(["[Content_Types].xml", *parts])  # every part stays
        everything = b"".join(z.read(n) for n in z.namelist())
    assert b"Rahasiawati" not in everything and WIN_USER.encode() not in everything
    assert kept in everything  # the rest of the part is untouched


def test_pdf_comment_authors_and_private_application_data_removed() -> None:
    """A PDF commented in a reader names each comment's author (/T of a markup annotation); a form field's /T
    is its name, not a person, and stays."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    note = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[0, 0, 10, 10],
        Contents=pikepdf.String("lihat halaman 2"), T=pikepdf.String(NAME), M=pikepdf.String("D:20240101")))
    field = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, Rect=[0, 20, 10, 30], FT=pikepdf.Name.Tx,
        T=pikepdf.String("nomor_surat")))
    page = pdf.pages[0].obj
    page.Annots = pdf.make_indirect(pikepdf.Array([note, field]))
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array([field])))
    page.PieceInfo = pikepdf.Dictionary(Editor=pikepdf.Dictionary(Private=pikepdf.String(WIN_USER)))
    pdf.Root.PieceInfo = pikepdf.Dictionary(Editor=pikepdf.Dictionary(Private=pikepdf.String(WIN_USER)))
    buf = io.BytesIO()
    pdf.save(buf)
    original = buf.getvalue()
    assert b"Rahasiawati" in original and WIN_USER.encode() in original
    ev = prepare(original, "application/pdf", "document")
    assert ev.stripped and b"Rahasiawati" not in ev.data and WIN_USER.encode() not in ev.data
    with pikepdf.open(io.BytesIO(ev.data)) as clean:
        annots = list(clean.pages[0].obj.Annots)
        assert str(annots[0].Contents) == "lihat halaman 2" and "/T" not in annots[0]  # the comment stays
        assert str(annots[1].T) == "nomor_surat"


def _jpeg_with_gps_and_iptc() -> bytes:
    """``jpeg_with_gps`` plus an IPTC by-line (APP13) and a JPEG comment, as photo editors write them."""
    return _with_iptc_and_comment(jpeg_with_gps())


def _with_iptc_and_comment(data: bytes) -> bytes:
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x14\x1c\x02\x50\x00\x10" + NAME.encode()
    app13 = b"\xff\xed" + (len(iptc) + 2).to_bytes(2, "big") + iptc
    com = b"\xff\xfe" + (len(NAME) + 2).to_bytes(2, "big") + NAME.encode()
    return data[:2] + app13 + com + data[2:]


def test_photos_inside_pdf_and_office_files_lose_their_exif() -> None:
    """A photo converted to PDF (img2pdf and phone scanner apps embed the JPEG as it is) or pasted into a Word
    file keeps its EXIF — GPS position, camera owner — unless it is stripped too; the picture itself stays."""
    import pikepdf

    photo = _jpeg_with_gps_and_iptc()
    with Image.open(io.BytesIO(photo)) as img:
        assert img.getexif().get_ifd(0x8825) and img.size == (40, 20)
        pixels = img.convert("RGB").tobytes()
    pdf = pikepdf.new()
    pdf.add_blank_page()
    image = pikepdf.Stream(pdf, photo)
    image.Type, image.Subtype, image.Filter = pikepdf.Name.XObject, pikepdf.Name.Image, pikepdf.Name.DCTDecode
    image.Width, image.Height, image.BitsPerComponent = 40, 20, 8
    image.ColorSpace = pikepdf.Name.DeviceRGB
    pdf.pages[0].obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    buf = io.BytesIO()
    pdf.save(buf)
    docx = _ooxml({"word/document.xml": "<w:document/>", "word/media/image1.jpeg": photo})
    assert b"Rahasiawati" in buf.getvalue() and b"KameraRahasia" in docx
    for ev in (prepare(buf.getvalue(), "application/pdf", "document"),
               prepare(docx, "application/octet-stream", "document")):
        assert ev.stripped and ev.ext in ("pdf", "docx")
        if ev.ext == "pdf":
            with pikepdf.open(io.BytesIO(ev.data)) as clean:
                embedded = bytes(clean.pages[0].obj.Resources.XObject.Im0.read_raw_bytes())
        else:
            import zipfile

            with zipfile.ZipFile(io.BytesIO(ev.data)) as z:
                embedded = z.read("word/media/image1.jpeg")
        assert b"Rahasiawati" not in embedded and b"KameraRahasia" not in embedded
        with Image.open(io.BytesIO(embedded)) as img:
            assert len(img.getexif()) == 0 and img.convert("RGB").tobytes() == pixels  # lossless


def test_a_photo_too_big_to_decode_still_loses_its_metadata() -> None:
    """A 108-megapixel camera photo sent as a file is beyond the decoding limit (``MAX_PIXELS``, against
    decompression bombs), so it cannot be re-encoded; its EXIF — GPS, owner — goes all the same, without decoding
    the picture, and the orientation stays so it is shown the right way up."""
    from handlers.tips.evidence import MAX_PIXELS

    width, height = 8000, MAX_PIXELS // 8000 + 1
    exif = Image.Exif()
    exif[0x013B] = NAME  # Artist
    exif[0x0112] = 6  # rotated: shown turned by 90 degrees
    exif[0x8825] = {1: "S", 2: (0.0, 30.0, 0.0), 3: "E", 4: (117.0, 9.0, 0.0)}
    buf = io.BytesIO()
    Image.new("L", (width, height), 128).save(buf, "JPEG", exif=exif, quality=30)
    original = _with_iptc_and_comment(buf.getvalue())
    ev = prepare(original, "application/octet-stream", "document")
    assert ev.stripped and ev.content_type == "image/jpeg" and ev.ext == "jpg"
    assert b"Rahasiawati" not in ev.data and ev.sha256_original == hashlib.sha256(original).hexdigest()
    with Image.open(io.BytesIO(ev.data)) as img:  # opened, not decoded
        assert img.size == (width, height) and dict(img.getexif()) == {0x0112: 6}
