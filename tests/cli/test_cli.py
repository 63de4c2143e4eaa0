"""The CLI contract: exit 0 ok / 1 failure / 2 bad input, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from creditgate.cli.main import app
from creditgate.policy.loader import default_policy_path, load_policy
from creditgate.snapshot import read_meta
from strategies import strong_profile

runner = CliRunner()


def profile_json(**overrides: object) -> str:
    return json.dumps(strong_profile(**overrides), default=str, ensure_ascii=False)


def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.output + (result.stderr or "")
    return result


def test_decide_one_profile_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(json.loads(profile_json(pay_score=599)), indent=2, ensure_ascii=False),
        encoding="utf-8",
    )
    result = invoke("decide", str(path), "--as-of", "2026-11-28", "--lang", "en")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["outcome"] == "not_invited"
    assert d["reasons"][0]["code"] == "PAY_SCORE_LOW" and d["reasons"][0]["observed"] == 599
    assert set(d["reasons"][0]["message"]) == {"en"}
    assert d["as_of"] == "2026-11-28" and d["policy"]["name"] == "default"


def test_json_lines_stream_reports_bad_lines_by_number() -> None:
    lines = [
        profile_json(user_id="a"),
        "",
        profile_json(user_id="b", pay_score="high"),
        "{not json",
        profile_json(user_id="c", city="深圳", is_county_area=True),
    ]
    result = invoke("decide", "-", "--as-of", "2026-11-28", stdin="\n".join(lines) + "\n")
    assert result.exit_code == 2
    decided = [json.loads(x) for x in result.stdout.splitlines()]
    assert [d["user_id"] for d in decided] == ["a", "c"]
    assert [d["outcome"] for d in decided] == ["invited", "not_invited"]
    assert "line 3: pay_score" in result.stderr
    assert "line 4:" in result.stderr
    assert "2 bad line(s)" in result.stderr


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ('{"user_id": "x"', "malformed JSON"),
        ("[1, 2,\n 3]", "expected a JSON object"),
        ("", "no profile"),
    ],
)
def test_bad_documents_exit_2(stdin: str, message: str) -> None:
    result = invoke("decide", "-", stdin=stdin)
    assert result.exit_code == 2 and message in result.stderr


def test_bad_options_and_files_exit_2(tmp_path: Path) -> None:
    assert invoke("decide", "-", "--as-of", "28/11/2026", stdin="{}").exit_code == 2
    assert invoke("decide", str(tmp_path / "missing.json")).exit_code == 2
    assert invoke("decide", "-", "--lang", "fr", stdin="{}").exit_code == 2


def test_broken_policy_exits_2_naming_the_line(tmp_path: Path) -> None:
    text = (
        default_policy_path()
        .read_text(encoding="utf-8")
        .replace("field: pay_score, op", "field: pay_scroe, op", 1)
    )
    policy = tmp_path / "p.yaml"
    policy.write_text(text, encoding="utf-8")
    result = invoke("decide", "-", "--policy", str(policy), stdin=profile_json())
    assert result.exit_code == 2
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "pay_scroe" in x)
    assert f"p.yaml:{line}:" in result.stderr and "pay_scroe" in result.stderr


def test_policy_lint_exit_codes(tmp_path: Path) -> None:
    ok = invoke("policy", "lint", str(default_policy_path()))
    assert ok.exit_code == 0 and "0 error(s), 0 warning(s)" in " ".join(ok.stdout.split())
    above_cap = tmp_path / "above_cap.yaml"
    above_cap.write_text(
        default_policy_path()
        .read_text(encoding="utf-8")
        .replace("limit: 200000}", "limit: 300000}"),
        encoding="utf-8",
    )
    warned = invoke("policy", "lint", str(above_cap))
    assert warned.exit_code == 0 and "HOUSEHOLD_LINE_CAP" in warned.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        default_policy_path()
        .read_text(encoding="utf-8")
        .replace('daily_rate: "0.0004"', 'daily_rate: "0.0008"'),
        encoding="utf-8",
    )
    result = invoke("policy", "lint", str(bad))
    assert result.exit_code == 1 and "APR_CAP" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("policy: [", encoding="utf-8")
    assert invoke("policy", "lint", str(broken)).exit_code == 1


def test_policy_show_and_demo() -> None:
    shown = invoke("policy", "show", str(default_policy_path()))
    assert shown.exit_code == 0
    for text in ("gates", "fraud rules", "scorecard", "tier1", "APR 0.1460"):
        assert text in shown.stdout
    demo = invoke("demo", "--examples-only", "--no-serve", "--lang", "en")
    assert demo.exit_code == 0
    for text in ("invited", "REGION_CLOSED", "SCORE_BELOW_CUTOFF", "2027-04-02"):
        assert text in demo.stdout


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["decide", "--help"],
        ["demo", "--help"],
        ["policy", "--help"],
        ["policy", "lint", "--help"],
        ["policy", "show", "--help"],
    ):
        assert invoke(*args).exit_code == 0


def test_demo_pipeline_synth_train_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The card the demo trains is the card it decides and serves with."""
    served: list[Path | None] = []

    def serve_demo(db: str, policy: Path | None, snapshot: Path | None, *rest: object) -> None:
        served.extend([policy, snapshot])

    monkeypatch.setattr("creditgate.cli.serve.serve_demo", serve_demo)
    result = invoke("demo", "--users", "3000", "--workdir", str(tmp_path), "--port", "0")
    assert result.exit_code == 0, result.output
    trained = tmp_path / "policy.yaml"
    assert served == [trained, tmp_path / "snapshot.parquet"]
    assert "Trained by `creditgate policy train users.parquet` on 3,000" in trained.read_text()
    assert load_policy(trained).version == "2026.12.2-trained"
    assert read_meta(tmp_path / "snapshot.parquet").policy_version == "2026.12.2-trained"
    assert "policy default 2026.12.2-trained" in result.stdout  # the examples' header
    for name in (
        "users.parquet",
        "policy.yaml",
        "report/index.html",
        "decisions.parquet",
        "snapshot.parquet",
    ):
        assert (tmp_path / name).exists(), name
    assert "input 3,000 = decided 3,000 + quarantined 0" in result.stdout
