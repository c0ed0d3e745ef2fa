import pytest

from resources.settings import SettingError, Settings, read_dotenv


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf", "-inf"])
def test_unusable_rates_are_refused_naming_the_variable(value):
    with pytest.raises(SettingError, match="SERPER_REQUESTS_PER_SECOND"):
        Settings.from_env({"SERPER_REQUESTS_PER_SECOND": value})


def test_redis_url_must_be_a_redis_url():
    with pytest.raises(SettingError, match="REDIS_URL"):
        Settings.from_env({"REDIS_URL": "notaurl"})
    assert Settings.from_env({"REDIS_URL": "redis://h:6379/0"}).redis_url == "redis://h:6379/0"


def test_no_serper_key_means_sample_data_in_its_own_file():
    offline = Settings.from_env({})
    live = Settings.from_env({"SERPER_API_KEY": "k"})
    assert offline.offline and offline.data_source == "sample"
    assert offline.warehouse_url.endswith("sample.duckdb")
    assert live.warehouse_url.endswith("warehouse.duckdb")


def test_dotenv_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        "# comment\nexport COMPETITOR_COUNT=3\nLLM_MODEL='my-model'\nSERPER_CONCURRENCY=7\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SERPER_CONCURRENCY", "9")
    settings = Settings.from_env()
    assert settings.competitor_count == 3
    assert settings.llm_model == "my-model"
    assert settings.serper_concurrency == 9
    assert read_dotenv(tmp_path / "missing") == {}
