"""The README's commands, run as a user runs them (offline, on the bundled sample market)."""

import pytest

from cli.main import main

HEADER = "name,website,location,gl,hl\n"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for name in (
        "SERPER_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "WAREHOUSE_URL",
        "REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_refresh_prints_reports_and_report_finds_one_again(data_dir, capsys):
    assert main(["refresh", "--date", "2026-12-03"]) == 0
    out = capsys.readouterr().out
    assert "# Bean Theory Coffee: competitor report for 2026-12-03" in out
    assert "no report for Kensington Hair Co." in out
    assert len(list((data_dir / "reports" / "sample" / "2026-12-03").glob("*.md"))) == 10

    assert main(["report", "bean theory"]) == 0
    assert capsys.readouterr().out.startswith("# Bean Theory Coffee")
    assert main(["report", "Kensington"]) == 2
    assert "Google lists no category" in capsys.readouterr().err


def test_track_reports_bad_rows_and_keeps_good_ones(data_dir, capsys):
    csv = data_dir / "mine.csv"
    csv.write_text(HEADER + "Good Cafe,,Austin,us,en\n,,,us,en\nBad,,Austin,usa,en\n")
    assert main(["track", str(csv)]) == 0
    captured = capsys.readouterr()
    assert "1 added" in captured.out and "2 skipped" in captured.out
    assert "line 3: needs a name or a website" in captured.err
    assert "line 4: gl 'usa'" in captured.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["refresh", "--date", "2025-01-01"], "not a night the product keeps"),
        (["track", "missing.csv"], "cannot read missing.csv"),
        (["report", "%"], "no tracked or compared business matches '%'"),
    ],
)
def test_bad_input_gets_one_clear_line(data_dir, capsys, argv, expected):
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_a_bad_setting_names_the_variable(data_dir, capsys, monkeypatch):
    monkeypatch.setenv("SERPER_REQUESTS_PER_SECOND", "nan")
    assert main(["refresh"]) == 2
    assert "SERPER_REQUESTS_PER_SECOND='nan'" in capsys.readouterr().err
