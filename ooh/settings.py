"""One typed settings object for the action server, the tools and the tests.

Values come from environment variables prefixed ``OOH_`` (e.g. ``OOH_SMTP_PORT=2525``) so the same
code runs on a laptop with embedded defaults and in production with real servers.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseSettings, Field

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration.

    Attributes:
        service_scripts_dir: Folder holding ``<po>/`` organisation data and ``_scripts``/``_common``.
        database_url: SQLAlchemy URL of the service-request store (SQLite by default).
        smtp_host: SMTP server that carries referral emails to on-call staff.
        smtp_port: Its port.
        smtp_from: Sender address of referral emails.
        smtp_timeout_seconds: Socket timeout for one SMTP attempt.
        smtp_attempts_per_stage: Tries per contact before falling back to the next stage.
        smtp_retry_delay_seconds: Pause between tries (kept short in tests).
        mail_sink: ``make run`` starts a local SMTP sink (``ooh.mailsink``, messages kept as ``.eml``
            files in ``mail_dir``) on ``smtp_host:smtp_port`` when that is this machine and free, so a
            fresh machine shows referrals without a mail server. Turn off in production.
        mail_dir: Where the sink keeps messages.
        smtp_starttls: Upgrade the SMTP connection with STARTTLS before sending (and refuse to send
            in clear when the server does not offer it).
        smtp_ca_file: Certificate authorities to trust for STARTTLS instead of the system's (a council's
            own internal CA).
        smtp_username: Sign in to the SMTP server (with ``smtp_password``) when set.
        smtp_password: Its password.
        notify_api_key: GOV.UK Notify API key (``name-<service id>-<secret>``) for SMS referrals;
            unset: SMS is not available (a referral whose option lists ``sms`` goes by its next channel),
            unless ``notify_fake`` starts the local fake.
        notify_base_url: Notify's API (the local fake's address under ``make run``).
        notify_sms_template_id: The service's SMS template whose whole text is ``((body))``.
        notify_callback_token: Bearer token Notify shows our callbacks (delivery receipts, received
            text messages), as set on the service's Notify "API integration" page; unset: kept secret.
        notify_fake: ``make run`` starts ``ooh.notifyfake`` (Notify's SMS API on this machine; messages
            kept as files in ``sms_dir``) when no ``notify_api_key`` is set, so a fresh machine shows SMS.
        notify_fake_port: Its port.
        sms_dir: Where the fake keeps the texts it "sent".
        timezone: Local time zone of the service; hours of operation and rotas are in it.
        redis_url: When set, Rasa keeps conversations in Redis with a Redis lock store.
        allow_clock_override: Let a message's metadata ``now`` set the time (tests and demos of
            out-of-hours behaviour only; never in production).
        referral_retry_interval_seconds: Wait before a referral that could not be sent is tried again
            (doubling on each failure, at most 5 minutes).
        worker_poll_seconds: How often the worker looks for due jobs.
        worker_lease_seconds: How long a worker holds a job before another may take it over (longer
            than the slowest whole referral: every stage's tries with their timeouts).
        worker_parallel: Jobs one worker runs at once.
        ack_minutes: A sent referral not acknowledged within this time is sent again, then to
            stage 2, then to the rota's escalation contact (an option's ``acknowledge_within``
            overrides it).
        ack_minutes_safeguarding: The same for a risk to a person (the shortest times).
        public_staff_url: Where officers reach the staff site from their phones (acknowledgement
            links in referrals point there).
        ack_secret: Key signing acknowledgement links; unset: generated and kept.
        lone_worker_repeat_minutes: A lone worker's alarm (no check-out by the time they gave) is sent
            to their managers again this often until one acknowledges it or the officer checks out.
        rasa_url: Where the voice gateway reaches the agent (Rasa's REST channel).
        vosk_model_dir: A downloaded Vosk model (``tools/get_vosk_model.sh``); without one the voice
            gateway uses the offline pocketsphinx recogniser.
        voice_silence_ms: Silence that ends a caller's utterance.
        voice_closed_silence_ms: Silence that ends a short closed answer (yes/no, a choice, digits).
        voice_max_utterance_ms: Longest utterance before it is cut and recognised anyway.
        voice_no_input_ms: Silence after a prompt before the caller is prompted again.
        voice_max_failures: Silences or unrecognised answers in a row before a person takes the call.
        voice_max_frame_bytes: Largest WebSocket message (web audio, a Twilio media event) or AudioSocket
            frame a call may send; a bigger one closes the connection (WebSocket code 1009) and ends the
            call. 64 KiB is 2 s of web audio; browsers send about 0.1 s, Twilio and Asterisk 20 ms.
        voice_max_call_seconds: Longest call: then the caller is told the call must end, and it ends.
            The recording of a call is never longer than this (plus the closing words).
        voice_max_live_calls: Calls in progress at once (all protocols together); the next caller is
            told the line is busy (and to call 999 in an emergency) and the call is ended.
        voice_max_queued_frames: Caller audio a call holds while it cannot listen (waiting for the
            agent, saying goodbye), in 20 ms frames; beyond it the oldest audio is dropped (the call log
            says so). 1500 is 30 s.
        voice_port: HTTP/WebSocket port of the voice gateway (Twilio webhook, web calls).
        audiosocket_port: TCP port for Asterisk AudioSocket calls (0: off).
        recordings_dir: Where both sides of every call are stored as WAV.
        voice_clock: A fixed "now" the gateway gives the agent (tests and demos; honoured only
            with ``allow_clock_override``).
        twilio_api_base: Twilio's REST API (a transfer redirects the live call there).
        twilio_account_sid: Account for the REST API (transfers need it).
        twilio_auth_token: Its token.
        twilio_from_number: The service's Twilio number that outbound referral calls come from.
        public_voice_url: Where Twilio reaches the voice gateway (a referral call's keypress goes to
            ``/twilio/ack/<token>`` there).
        api_token: The operator token for Rasa's HTTP API (``?token=``, Rasa's ``--auth-token``).
            Unset: one is generated once and kept in ``secrets_dir``, readable by its owner only.
        action_secret: Shared secret Rasa sends the action server with every action call
            (``X-OOH-Action-Secret``); unset: generated and kept like the API token.
        bind_host: Interface Rasa and the action server listen on. Loopback by default: put a
            TLS-terminating proxy in front for the chat webhook, never expose them directly.
        secrets_dir: Where generated secrets are kept (folder 0700, files 0600).
        audiosocket_host: Interface AudioSocket listens on: loopback by default; set it to the address
            the PBX reaches, and let only the PBX through (a firewall rule), never the internet.
        pbx_token: Token the PBX's dialplan shows the gateway (``?token=``) to register a call's
            dialled number and read its transfer target; unset: generated and kept.
        staff_port: HTTP port of the staff web app (sign-in, requests, recordings).
        staff_session_idle_minutes: A staff session ends after this long without a request.
        staff_session_hours: ... and this long after sign-in in any case (a night shift fits).
        staff_max_failures: Wrong passwords or codes in a row before an account locks.
        staff_lockout_minutes: How long a locked account stays locked.
        cookie_secure: Staff cookies are ``Secure`` (sent over HTTPS only; browsers also send them
            to ``http://localhost``). Turn off only for a test over plain HTTP to another host.
        production: A real deployment: ingress that cannot prove who is calling is refused (a
            Twilio webhook without ``twilio_auth_token`` to check its signature), not merely logged.
    """

    service_scripts_dir: Path = PROJECT_ROOT / "service_scripts"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'records.db'}"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_from: str = "ooh-agent@localhost"
    smtp_timeout_seconds: float = 10.0
    smtp_attempts_per_stage: int = Field(2, ge=1)
    smtp_retry_delay_seconds: float = Field(1.0, ge=0)
    mail_sink: bool = True
    mail_dir: Path = PROJECT_ROOT / "var" / "mail"
    smtp_starttls: bool = False
    smtp_ca_file: Path | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    notify_api_key: str | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_sms_template_id: str | None = None
    notify_callback_token: str | None = None
    notify_fake: bool = True
    notify_fake_port: int = 6011
    sms_dir: Path = PROJECT_ROOT / "var" / "sms"
    timezone: str = "Europe/London"
    redis_url: str | None = None
    allow_clock_override: bool = False
    referral_retry_interval_seconds: float = Field(30.0, gt=0)
    worker_poll_seconds: float = Field(0.5, gt=0)
    worker_lease_seconds: float = Field(300.0, gt=0)
    worker_parallel: int = Field(4, ge=1)
    ack_minutes: float = Field(15.0, gt=0)
    ack_minutes_safeguarding: float = Field(5.0, gt=0)
    public_staff_url: str = "http://localhost:8081"
    ack_secret: str | None = None
    lone_worker_repeat_minutes: float = Field(5.0, gt=0)
    rasa_url: str = "http://127.0.0.1:5005"
    vosk_model_dir: Path | None = None
    voice_silence_ms: int = Field(700, ge=100)
    voice_closed_silence_ms: int = Field(400, ge=100)
    voice_max_utterance_ms: int = Field(15000, ge=1000)
    voice_no_input_ms: int = Field(6000, ge=1000)
    voice_max_failures: int = Field(3, ge=1)
    voice_max_frame_bytes: int = Field(64 * 1024, ge=4096, le=16 * 1024 * 1024)
    voice_max_call_seconds: int = Field(30 * 60, ge=60)
    voice_max_live_calls: int = Field(20, ge=1)
    voice_max_queued_frames: int = Field(1500, ge=50)
    voice_port: int = 8080
    audiosocket_port: int = 9092
    recordings_dir: Path = PROJECT_ROOT / "var" / "recordings"
    voice_clock: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    public_voice_url: str = "http://localhost:8080"
    api_token: str | None = None
    action_secret: str | None = None
    bind_host: str = "127.0.0.1"
    secrets_dir: Path = PROJECT_ROOT / "var" / "secrets"
    audiosocket_host: str = "127.0.0.1"
    pbx_token: str | None = None
    staff_port: int = 8081
    staff_session_idle_minutes: float = Field(30.0, gt=0)
    staff_session_hours: float = Field(12.0, gt=0)
    staff_max_failures: int = Field(5, ge=1)
    staff_lockout_minutes: float = Field(15.0, gt=0)
    cookie_secure: bool = True
    production: bool = False

    class Config:
        """Pydantic options: every setting can be given as ``OOH_<NAME>``."""

        env_prefix = "OOH_"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment once."""
    return Settings()  # type: ignore[call-arg]  # fields come from the environment (pydantic v1)
