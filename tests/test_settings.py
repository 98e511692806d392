"""Settings come from IMAGING_AI_* environment variables, typed and validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from imaging_ai.settings import Settings


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMAGING_AI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IMAGING_AI_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("IMAGING_AI_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("IMAGING_AI_LOG_LEVEL", "DEBUG")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.max_upload_bytes == 1234
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'imaging_ai.sqlite3'}"


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGING_AI_MAX_UPLOAD_BYTES", "-1")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("IMAGING_AI_MAX_UPLOAD_BYTES", "10")
    monkeypatch.setenv("IMAGING_AI_LOG_LEVEL", "CHATTY")
    with pytest.raises(ValidationError):
        Settings()


def test_pseudonym_key_is_generated_once_per_data_dir(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).pseudonym_key_bytes
    second = Settings(data_dir=tmp_path).pseudonym_key_bytes
    assert first == second and len(first) == 64
    assert Settings(data_dir=tmp_path / "other").pseudonym_key_bytes != first
    assert (tmp_path / "secrets" / "pseudonym.key").stat().st_mode & 0o077 == 0
