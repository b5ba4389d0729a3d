import tomllib
from pathlib import Path

import pytest

from faq.kb import VERDICTS, KBError, load_kb

TOPICS = Path(__file__).resolve().parents[3] / "shared" / "faq" / "topics.toml"

GOOD = """
[[entry]]
id = "a"
title = "A"
verdict = "tidak"
questions = ["boleh a?"]
answer = "Tidak."
legal_basis = "UU"
related = ["b"]

[[entry]]
id = "b"
title = "B"
verdict = "info"
questions = ["apa b?"]
answer = "B."
legal_basis = "UU"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_shipped_kb_is_valid_and_covers_every_topic() -> None:
    kb = load_kb()
    topics = tomllib.loads(TOPICS.read_text(encoding="utf-8"))["topic"] if TOPICS.exists() else []
    for topic in topics:
        entry = kb.get(topic["id"])
        assert entry is not None, topic["id"]
        assert entry.verdict == topic["verdict"], topic["id"]
    for entry in kb:
        assert entry.verdict in VERDICTS
        assert len(entry.questions) >= 5, entry.id
        assert entry.legal_basis and entry.answer


def test_valid_small_kb(tmp_path: Path) -> None:
    kb = load_kb(write(tmp_path, "x.toml", GOOD))
    assert sorted(kb.entries) == ["a", "b"]
    assert kb.get("a").related == ("b",)
    assert kb.get("zzz") is None


def test_unknown_related_names_file_and_entry(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"x\.toml: entry 'a': unknown related id 'c'"):
        load_kb(write(tmp_path, "x.toml", GOOD.replace('related = ["b"]', 'related = ["c"]')))


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    write(tmp_path, "one.toml", GOOD)
    dup = GOOD.split("[[entry]]")[2]
    with pytest.raises(KBError, match=r"two\.toml: entry 'b': duplicate id \(already defined in one\.toml\)"):
        load_kb(write(tmp_path, "two.toml", "[[entry]]" + dup))


def test_bad_verdict(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"x\.toml: entry 'a': bad verdict 'mungkin'"):
        load_kb(write(tmp_path, "x.toml", GOOD.replace('verdict = "tidak"', 'verdict = "mungkin"')))


def test_missing_field_and_empty_questions(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"entry 'a': missing or empty 'legal_basis'"):
        load_kb(write(tmp_path, "x.toml", GOOD.replace('legal_basis = "UU"\nrelated', "related", 1)))
    with pytest.raises(KBError, match=r"entry 'a': 'questions' must contain at least one question"):
        sub = tmp_path / "sub"
        sub.mkdir()
        load_kb(write(sub, "y.toml", GOOD.replace('questions = ["boleh a?"]', "questions = []")))


def test_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"bad\.toml: invalid TOML"):
        load_kb(write(tmp_path, "bad.toml", "[[entry]\nid ="))
