"""Secrets the stack needs between its own processes, generated once when none is configured.

A fresh machine must be safe by default: with no ``OOH_API_TOKEN`` set, Rasa's HTTP API is still
locked, by a token made here with :func:`secrets.token_urlsafe` and kept in a file only its owner
can read, so an operator can find it (``var/secrets/api_token``) and every process of the stack
agrees on it. A configured value always wins.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ooh.settings import Settings

SECRET_HEADER = "X-OOH-Action-Secret"
"""The header Rasa shows the action server its secret in (checked by ``actions/server.py``)."""
API_TOKEN = "api_token"
PBX_TOKEN = "pbx_token"
ACTION_SECRET = "action_secret"
ACK_SECRET = "ack_secret"
NOTIFY_CALLBACK_TOKEN = "notify_callback_token"


def kept_secret(name: str, folder: Path) -> str:
    """The secret ``name`` kept in ``folder``, made now if there is none (safe from several processes).

    The folder is created 0700 and the file 0600 with ``O_EXCL``: two processes starting together
    cannot both write, and the loser reads the winner's value.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = folder / name
    value = secrets.token_urlsafe(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        kept = path.read_text(encoding="utf-8").strip()
        if kept:
            return kept
        path.unlink()
        return kept_secret(name, folder)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def operator_token(settings: Settings) -> str:
    """The token for Rasa's HTTP API: ``OOH_API_TOKEN``, else the kept one."""
    return settings.api_token or kept_secret(API_TOKEN, settings.secrets_dir)


def action_secret(settings: Settings) -> str:
    """The secret Rasa shows the action server: ``OOH_ACTION_SECRET``, else the kept one."""
    return settings.action_secret or kept_secret(ACTION_SECRET, settings.secrets_dir)


def pbx_token(settings: Settings) -> str:
    """The token the PBX's dialplan shows the gateway: ``OOH_PBX_TOKEN``, else the kept one."""
    return settings.pbx_token or kept_secret(PBX_TOKEN, settings.secrets_dir)


def private_files() -> None:
    """Make every file this process creates readable by its owner only (umask 077).

    Called first by each server of the stack: conversations, records, logs and recordings hold
    what residents said, and must not be world-readable on a shared machine.
    """
    os.umask(0o077)


def ack_secret(settings: Settings) -> str:
    """The key that signs acknowledgement links in referrals: ``OOH_ACK_SECRET``, else the kept one."""
    return settings.ack_secret or kept_secret(ACK_SECRET, settings.secrets_dir)


def notify_callback_token(settings: Settings) -> str:
    """The bearer token Notify's callbacks must show: ``OOH_NOTIFY_CALLBACK_TOKEN``, else the kept one."""
    return settings.notify_callback_token or kept_secret(NOTIFY_CALLBACK_TOKEN, settings.secrets_dir)
