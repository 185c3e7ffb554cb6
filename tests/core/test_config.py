"""Settings: defaults for the demo, refusals outside it."""

import pytest

from yiwang.core.config import DEMO_DATA_KEY, ConfigError, Settings, load_settings


def test_demo_profile_accepts_published_keys(tmp_path):
    s = Settings(home=tmp_path)
    assert s.is_demo and s.db_url == f"sqlite:///{tmp_path.resolve() / 'yiwang.db'}"
    assert s.lake_location == str(tmp_path.resolve() / "lake")


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "YIWANG_SECRET_KEY"),
        ({"YIWANG_SECRET_KEY": "x" * 40}, "YIWANG_DATA_KEY"),
        ({"YIWANG_SECRET_KEY": "short", "YIWANG_DATA_KEY": "ab" * 16}, "YIWANG_SECRET_KEY"),
        ({"YIWANG_SECRET_KEY": "x" * 40, "YIWANG_DATA_KEY": DEMO_DATA_KEY}, "YIWANG_DATA_KEY"),
    ],
)
def test_production_refuses_default_or_missing_keys(monkeypatch, env, problem):
    monkeypatch.setenv("YIWANG_PROFILE", "production")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert problem in str(err.value)


def test_production_starts_with_own_keys(monkeypatch):
    monkeypatch.setenv("YIWANG_PROFILE", "production")
    monkeypatch.setenv("YIWANG_SECRET_KEY", "s" * 48)
    monkeypatch.setenv("YIWANG_DATA_KEY", "1f" * 16)
    s = load_settings()
    assert not s.is_demo and s.data_key_bytes == bytes.fromhex("1f" * 16)


def test_malformed_data_key_is_named(monkeypatch):
    monkeypatch.setenv("YIWANG_DATA_KEY", "not-hex")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "32 hexadecimal digits" in str(err.value)
