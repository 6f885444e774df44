"""services/common/secret_files.py: `<NAME>_FILE` sets `<NAME>` for ticketflow's secrets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from services.common.secret_files import SECRET_VARIABLES, SecretFileError, load_secret_files


def secret(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def test_every_known_secret_is_read_from_its_file(tmp_path: Path) -> None:
    env = {f"{name}_FILE": secret(tmp_path, name, f"value of {name}") for name in SECRET_VARIABLES}
    assert sorted(load_secret_files(env)) == sorted(SECRET_VARIABLES)
    for name in SECRET_VARIABLES:
        assert env[name] == f"value of {name}"


@pytest.mark.parametrize(
    ("content", "value"),
    [
        ("s3cret\n", "s3cret"),
        ("s3cret", "s3cret"),
        ("s3cret\r\n", "s3cret"),
        ("s3cret\n\n", "s3cret\n"),  # only one newline is the file's; the rest is the value's
        ("  spaced  \n", "  spaced  "),
        ("k1,k2\n", "k1,k2"),
        ("", ""),
    ],
)
def test_one_trailing_newline_is_stripped(tmp_path: Path, content: str, value: str) -> None:
    env = {"TICKETFLOW_ADMIN_TOKEN_FILE": secret(tmp_path, "token", content)}
    assert load_secret_files(env) == ["TICKETFLOW_ADMIN_TOKEN"]
    assert env["TICKETFLOW_ADMIN_TOKEN"] == value


def test_a_variable_already_set_wins_and_its_file_is_not_read(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://explicit",
        "DATABASE_URL_FILE": str(tmp_path / "absent"),
    }
    assert load_secret_files(env) == []
    assert env["DATABASE_URL"] == "postgresql://explicit"


def test_an_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "", "DATABASE_URL_FILE": secret(tmp_path, "url", "postgresql://f\n")}
    assert load_secret_files(env) == ["DATABASE_URL"]
    assert env["DATABASE_URL"] == "postgresql://f"


def test_other_file_variables_are_left_alone(tmp_path: Path) -> None:
    env = {
        "SSL_CERT_FILE": str(tmp_path / "absent.pem"),
        "KAFKA_SSL_CAFILE": str(tmp_path / "absent.crt"),
        "TICKETFLOW_POLICY_DIR_FILE": str(tmp_path / "absent"),
        "_FILE": "x",
    }
    before = dict(env)
    assert load_secret_files(env) == []
    assert env == before


def test_a_missing_file_names_the_variable_and_path(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    with pytest.raises(SecretFileError) as caught:
        load_secret_files({"KAFKA_SASL_PASSWORD_FILE": str(path)})
    assert "KAFKA_SASL_PASSWORD_FILE" in str(caught.value)
    assert str(path) in str(caught.value)
    assert "no such file" in str(caught.value)


def test_a_directory_an_empty_path_and_bad_bytes_are_errors(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match="TICKETFLOW_INTERNAL_TOKEN_FILE=.*directory"):
        load_secret_files({"TICKETFLOW_INTERNAL_TOKEN_FILE": str(tmp_path)})
    with pytest.raises(SecretFileError, match="TICKETFLOW_INTERNAL_TOKEN_FILE is set but empty"):
        load_secret_files({"TICKETFLOW_INTERNAL_TOKEN_FILE": ""})
    bad = secret(tmp_path, "keys", b"\xff\xfe")
    with pytest.raises(SecretFileError, match="TICKETFLOW_NOTIFY_SECRET_KEYS_FILE=.*UTF-8"):
        load_secret_files({"TICKETFLOW_NOTIFY_SECRET_KEYS_FILE": bad})


def test_an_unreadable_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(secret(tmp_path, "password", "hunter2"))

    def denied(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    # chmod 0 does not stop root (CI runs as root), so the refusal is simulated.
    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(SecretFileError, match="TICKETFLOW_NOTIFY_SMTP_PASSWORD_FILE=.*denied"):
        load_secret_files({"TICKETFLOW_NOTIFY_SMTP_PASSWORD_FILE": str(path)})


def test_other_read_errors_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(self: Path, *args: object, **kwargs: object) -> str:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "read_text", failing)
    with pytest.raises(SecretFileError, match="KAFKA_SASL_PASSWORD_FILE=.*Input/output error"):
        load_secret_files({"KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "p")})


def test_the_value_is_never_logged_nor_in_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    value = "very-secret-value-0123456789"
    env = {
        "TICKETFLOW_ADMIN_TOKEN_FILE": secret(tmp_path, "token", value),
        "TICKETFLOW_NOTIFY_SECRET_KEYS_FILE": secret(tmp_path, "keys", b"\xff" + value.encode()),
    }
    with pytest.raises(SecretFileError) as caught:
        load_secret_files(env)
    assert value not in str(caught.value)
    assert value not in caplog.text
    captured = capsys.readouterr()
    assert value not in captured.out + captured.err


def test_the_process_environment_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETFLOW_INTERNAL_TOKEN", "")  # restored (unset) after the test
    monkeypatch.setenv("TICKETFLOW_INTERNAL_TOKEN_FILE", secret(tmp_path, "t", "internal\n"))
    assert "TICKETFLOW_INTERNAL_TOKEN" in load_secret_files()
    assert os.environ["TICKETFLOW_INTERNAL_TOKEN"] == "internal"


def test_the_cli_loads_them_before_any_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from services.cli.main import app

    missing = str(tmp_path / "absent")
    done = CliRunner().invoke(
        app,
        ["deploy", "generate", "--check"],
        env={"DATABASE_URL": "", "DATABASE_URL_FILE": missing},
    )
    assert done.exit_code == 2
    assert f"DATABASE_URL_FILE={missing}: no such file" in done.output
