import json
import subprocess
import sys
from pathlib import Path

from bot.texts import t
from faq import default_matcher
from faq.evaluate import evaluate, load_questions

ROOT = Path(__file__).resolve().parents[2]
DEV = Path(__file__).with_name("dev-questions.toml")
HELDOUT = Path(__file__).with_name("heldout-questions.toml")


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "faq", *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_cli_ask_json_stdin() -> None:
    proc = run("ask", "--json", "-", stdin="pns boleh ngelike foto calon di ig?\nresep rendang\n")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 2
    assert lines[0]["status"] == "answer" and lines[0]["id"] == "medsos-like"
    assert lines[0]["verdict"] == default_matcher().kb.entries["medsos-like"].verdict
    assert lines[0]["band"] == "clear" and lines[0]["intent"] is None
    assert isinstance(lines[0]["score"], float) and isinstance(lines[0]["suggestions"], list)
    assert lines[1] == {"status": "none", "id": None, "score": lines[1]["score"], "suggestions": [],
                        "verdict": None, "intent": None, "band": "none"}


def test_cli_ask_json_verdict_only_for_a_clear_answer_and_intents_named() -> None:
    stdin = "asn medsos calon\nsaya mau lapor\nhalo\ncara daftar cpns\njadwal pencoblosan kapan\n"
    proc = run("ask", "--json", "-", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(x["band"], x["intent"], x["verdict"]) for x in lines] == [
        ("uncertain", None, None),
        ("intent", "lapor", None),
        ("intent", "greeting", None),
        ("intent", "scope-asn", None),
        ("intent", "tahapan", None),
    ]
    assert lines[0]["status"] == "suggest" and len(lines[0]["suggestions"]) >= 2
    assert lines[1]["suggestions"] == ["cara-lapor", "lapor-anonim"]


def test_cli_ask_text() -> None:
    proc = run("ask", "bolehkah asn jadi pengurus partai")
    assert proc.returncode == 0, proc.stderr
    assert "TIDAK BOLEH" in proc.stdout and "Dasar hukum:" in proc.stdout


def test_cli_text_does_not_claim_to_store_the_question() -> None:
    # walkthrough 33: the CLI stores nothing, so it must not say "kami catat"
    proc = run("ask", "resep rendang padang")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == t("faq.none_unlogged")
    proc = run("ask", "saya mau lapor")
    assert proc.stdout.splitlines()[0] == t("intent.lapor") and t("button.start_report") in proc.stdout


def check_bar(result: dict) -> None:
    assert result["correct_answer_rate"] >= 0.90, result
    assert result["wrong_answer_rate"] <= 0.03, result
    assert result["hit_rate"] >= 0.97, result
    assert result["oos_not_answered_rate"] >= 0.90, result


def test_dev_set_meets_bar() -> None:
    check_bar(evaluate(default_matcher(), load_questions(DEV)))


def test_heldout_set_meets_bar() -> None:
    result = evaluate(default_matcher(), load_questions(HELDOUT))
    assert result["in_scope"] >= 45 and result["out_of_scope"] >= 10
    check_bar(result)


def test_cli_eval_json() -> None:
    proc = run("eval", str(DEV))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["questions"] == len(load_questions(DEV))
    check_bar(data)


def test_cli_eval_with_and_without_intents() -> None:
    with_intents = json.loads(run("eval", str(HELDOUT)).stdout)
    matcher_only = json.loads(run("eval", "--no-intents", str(HELDOUT)).stdout)
    assert matcher_only == evaluate(default_matcher(), load_questions(HELDOUT))
    # the scope intent turns "cara daftar cpns 2025 gimana ya" from unrelated suggestions into "none"
    assert with_intents["oos_none_rate"] > matcher_only["oos_none_rate"]
    assert with_intents["correct"] == matcher_only["correct"] and with_intents["hit"] == matcher_only["hit"]
