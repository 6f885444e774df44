"""Secrets from files: the `<NAME>_FILE` convention.

On Kubernetes the Secrets are mounted as read-only files (deploy/k8s/README.md) and each
container gets `<NAME>_FILE=/etc/ticketflow/secrets/...` instead of the secret in `<NAME>`.
`load_secret_files()` runs first thing in the CLI, before any settings are read: for every
`<NAME>_FILE` whose `<NAME>` is one of ticketflow's secrets (`SECRET_VARIABLES`), it reads the
file, strips one trailing newline (`echo` and most editors add one; Secrets made with
`--from-literal` have none) and sets `<NAME>`, unless `<NAME>` is already set to something
(then that value wins and the file is not read).
Other `*_FILE` variables (`SSL_CERT_FILE`, ...) are left alone. A file that is missing or
unreadable is an error naming the variable and the path, never the value; nothing here logs.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

SUFFIX = "_FILE"

# Every environment variable that carries a secret, with the aliases the settings accept.
SECRET_VARIABLES: frozenset[str] = frozenset(
    {
        # PostgreSQL (intake, sla, escalation, notify, billing, console, the migration Job)
        "DATABASE_URL",
        "TICKETFLOW_DATABASE_URL",
        "TICKETFLOW_SLA_DATABASE_URL",
        # The admin API token (intake, notify, billing, console)
        "TICKETFLOW_ADMIN_TOKEN",
        "TICKETFLOW_NOTIFY_ADMIN_TOKEN",
        "TICKETFLOW_BILLING_ADMIN_TOKEN",
        "TICKETFLOW_CONSOLE_ADMIN_TOKEN",
        # The key signing the console's session cookies and CSRF tokens (console)
        "TICKETFLOW_CONSOLE_SECRET",
        # The service token intake presents to the SLA API (intake, sla)
        "TICKETFLOW_INTERNAL_TOKEN",
        "TICKETFLOW_SLA_INTERNAL_TOKEN",
        # Fernet keys encrypting the webhook signing secrets, newest first (notify)
        "TICKETFLOW_NOTIFY_SECRET_KEYS",
        # The SMTP relay's credentials (notify)
        "TICKETFLOW_NOTIFY_SMTP_USERNAME",
        "TICKETFLOW_NOTIFY_SMTP_PASSWORD",
        # Kafka SCRAM credentials (services/common/kafka_security.py)
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
    }
)


class SecretFileError(RuntimeError):
    """A `<NAME>_FILE` points at a file that cannot be read."""


def _strip_one_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def load_secret_files(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set each unset secret `<NAME>` from the file named by `<NAME>_FILE`.

    Returns the names set (for tests and diagnostics; never the values). Raises
    SecretFileError naming the variable and its path when a file is missing, is not a
    regular file, cannot be read or is not UTF-8.
    """
    env = os.environ if environ is None else environ
    loaded = []
    for variable in sorted(env):
        if not variable.endswith(SUFFIX):
            continue
        name = variable[: -len(SUFFIX)]
        if name not in SECRET_VARIABLES or env.get(name):
            continue
        if not env[variable]:
            raise SecretFileError(f"{variable} is set but empty: it must name the file of {name}")
        path = Path(env[variable])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SecretFileError(f"{variable}={path}: no such file (the secret {name})") from None
        except IsADirectoryError:
            raise SecretFileError(f"{variable}={path}: is a directory, not a file") from None
        except PermissionError:
            raise SecretFileError(
                f"{variable}={path}: permission denied (uid {os.getuid()} cannot read it)"
            ) from None
        except UnicodeDecodeError:
            raise SecretFileError(f"{variable}={path}: not UTF-8 text") from None
        except OSError as exc:
            raise SecretFileError(f"{variable}={path}: cannot read it ({exc.strerror})") from None
        env[name] = _strip_one_newline(text)
        loaded.append(name)
    return loaded
