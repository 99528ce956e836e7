"""Call recordings: named by an id the service issues, stored and served only inside one folder.

A recording's file name never comes from anything a client sent: a call id chosen by a client
(a Twilio ``callSid`` in a forged stream, a chat ``sender`` that was an absolute path) once named
files outside the folder. The gateway issues :func:`new_recording_id` for each call, the agent
stores it on the service request, and :func:`recording_path` refuses anything else.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from ooh.records.store import RecordStore, ServiceRequestView

_RECORDING_ID = re.compile(r"^[0-9a-f]{32}$")


def new_recording_id() -> str:
    """A fresh, unguessable recording id (128 random bits, hex)."""
    return secrets.token_hex(16)


def is_recording_id(value: object) -> bool:
    """Whether ``value`` has the form of an issued id (and so is safe in a file name)."""
    return isinstance(value, str) and bool(_RECORDING_ID.match(value))


def recording_path(folder: Path, recording_id: str) -> Path:
    """Where a recording lives, inside ``folder``; ``ValueError`` for anything but an issued id."""
    if not is_recording_id(recording_id):
        raise ValueError("not a recording id")
    path = (folder / f"{recording_id}.wav").resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ValueError("outside the recordings folder")
    return path


class RecordingUnavailable(LookupError):
    """A request's recording cannot be played; the message says why, in words staff understand.

    ``request`` is the request when there is one, so a door can check whose it is before saying why.
    """

    def __init__(self, reason: str, request: ServiceRequestView | None = None) -> None:
        super().__init__(reason)
        self.request = request


def request_recording(store: RecordStore, folder: Path, reference: str) -> tuple[ServiceRequestView, Path]:
    """The service request ``reference`` and its recording's file, for every door that plays one.

    Raises:
        RecordingUnavailable: No such request, it did not come from a call, or its file is missing.
    """
    request = store.get(reference)
    if request is None:
        raise RecordingUnavailable("No such service request")
    if request.channel != "voice" or not request.recording_id:
        raise RecordingUnavailable(f"{request.reference} did not come from a call", request)
    try:
        path = recording_path(folder, request.recording_id)
    except ValueError:
        raise RecordingUnavailable(f"{request.reference} has no valid recording", request) from None
    if not path.exists():
        raise RecordingUnavailable(f"The recording of {request.reference} is not stored (yet)", request)
    return request, path
