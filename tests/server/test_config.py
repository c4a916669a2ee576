"""Server settings precedence and validation (docs/protocol.md §8.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flomation.server.config import SettingsError, load_settings


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    """A flag overrides FLOMATION_SERVER_*, which overrides the config file, over defaults."""
    config = tmp_path / "server.toml"
    config.write_text('poll_hold = 3\nrunner_lost_after = 40\nlisten = "0.0.0.0:9000"\n')
    environ = {"FLOMATION_SERVER_POLL_HOLD": "7", "FLOMATION_SERVER_REQUIRE_V2": "true"}
    settings = load_settings({"listen": "127.0.0.1:0", "poll_hold_s": None}, environ, config)
    assert settings.listen == "127.0.0.1:0"
    assert settings.poll_hold_s == 7
    assert settings.runner_lost_after_s == 40
    assert settings.require_v2 is True
    assert settings.execution_timeout_s == 3600
    assert settings.max_log_bytes == 16 * 1024 * 1024


def test_invalid_values_name_the_setting(tmp_path: Path) -> None:
    """Bad values, unknown file keys and unreadable files are fatal with a clear message."""
    with pytest.raises(SettingsError, match="poll_hold_s"):
        load_settings({}, {"FLOMATION_SERVER_POLL_HOLD": "soon"})
    with pytest.raises(SettingsError, match="listen"):
        load_settings({"listen": "localhost"}, {})
    with pytest.raises(SettingsError, match="FLOMATION_SERVER_REQUIRE_V2"):
        load_settings({}, {"FLOMATION_SERVER_REQUIRE_V2": "maybe"})
    config = tmp_path / "server.json"
    config.write_text('{"colour": "red"}')
    with pytest.raises(SettingsError, match="colour"):
        load_settings({}, {}, config)
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings({}, {}, tmp_path / "missing.json")


def test_nonce_retention_must_cover_twice_the_signature_window(tmp_path: Path) -> None:
    """A replay store shorter than twice the window would forget signatures still acceptable."""
    config = tmp_path / "server.toml"
    config.write_text("signature_window_s = 300\nnonce_retention_s = 599\n")
    with pytest.raises(SettingsError, match=r"nonce_retention_s.*twice"):
        load_settings({}, {}, config)
    config.write_text("signature_window_s = 100\nnonce_retention_s = 200\n")
    assert load_settings({}, {}, config).nonce_retention_s == 200
