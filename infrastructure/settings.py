"""Configuration: environment variables only, with Open WebUI's names where it has one."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from application.config import parse_duration


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    DATA_DIR: Path = Path("./data")
    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    REDIS_KEY_PREFIX: str = "chronicle"
    WEBUI_SECRET_KEY: str = ""
    JWT_EXPIRES_IN: str = "4w"
    ENABLE_SIGNUP: bool = True
    DEFAULT_USER_ROLE: str = "pending"
    ENABLE_API_KEYS: bool = False
    ENABLE_LDAP: bool = False
    CORS_ALLOW_ORIGIN: str = "*"
    WEBUI_AUTH_COOKIE_SECURE: bool = False
    WEBUI_NAME: str = "Open WebUI"
    # /api/v1/utils/code/execute runs code on this Jupyter server; unset: the route answers 400.
    CODE_EXECUTION_JUPYTER_URL: str = ""
    CODE_EXECUTION_JUPYTER_AUTH_TOKEN: str = ""
    # Language-model connections: first values of the admin's settings (";"-separated lists).
    ENABLE_OPENAI_API: bool = True
    OPENAI_API_BASE_URLS: str = Field(default="", validation_alias=AliasChoices(
        "OPENAI_API_BASE_URLS", "OPENAI_API_BASE_URL"))
    OPENAI_API_KEYS: str = Field(default="", validation_alias=AliasChoices(
        "OPENAI_API_KEYS", "OPENAI_API_KEY"))
    ENABLE_OLLAMA_API: bool = True
    # Replies the web app asks for (docs/completions.md): how often a streaming reply is saved,
    # after how long an open reply whose task runs nowhere counts as interrupted, how often
    # each API worker looks for such replies.
    REPLY_CHECKPOINT_SECONDS: float = Field(default=1.0, gt=0, le=3600, allow_inf_nan=False)
    REPLY_STALE_SECONDS: float = Field(default=60.0, gt=0, le=86400, allow_inf_nan=False)
    REPLY_SWEEP_SECONDS: float = Field(default=15.0, gt=0, le=86400, allow_inf_nan=False)
    OLLAMA_BASE_URLS: str = Field(default="http://localhost:11434", validation_alias=AliasChoices(
        "OLLAMA_BASE_URLS", "OLLAMA_BASE_URL"))

    # Files and retrieval (Open WebUI's names; the admin's retrieval config overrides them).
    FILE_MAX_SIZE_MB: int | None = Field(default=100, ge=1, validation_alias=AliasChoices(
        "FILE_MAX_SIZE_MB", "RAG_FILE_MAX_SIZE"))  # upload limit in MB (413 beyond)
    CHUNK_SIZE: int = Field(default=1000, ge=1)
    CHUNK_OVERLAP: int = Field(default=100, ge=0)
    RAG_TOP_K: int = Field(default=3, ge=1)
    RAG_EMBEDDING_ENGINE: str = ""  # "": local all-MiniLM-L6-v2; "openai"; "ollama"
    RAG_EMBEDDING_MODEL: str = "sentence-transformers/all-MiniLM-L6-v2"
    RAG_EMBEDDING_BATCH_SIZE: int | None = Field(default=None, ge=1)  # None: 16 local, 1 remote
    RAG_OPENAI_API_BASE_URL: str = "https://api.openai.com/v1"
    RAG_OPENAI_API_KEY: str = ""
    RAG_OLLAMA_BASE_URL: str = "http://localhost:11434"

    # Chronicle's own knobs.
    CHRONICLE_PROJECTORS: str = "embedded"  # "embedded": threads in the server; "external": a projector process
    CHRONICLE_JOBS: str = "embedded"  # "embedded": in-process; "dramatiq": Redis broker
    READ_YOUR_WRITES_TIMEOUT: float = 2.0
    COMMAND_RETRIES: int = 5
    GROUP_COMMIT_MAX_EVENTS: int = 1000
    SIGNIN_RATE_LIMIT: int = 15
    SIGNIN_RATE_WINDOW: int = 180
    # Per-socket limit on incoming Socket.IO frames (interfaces/realtime/limits.py); rate 0: off.
    SOCKETIO_EVENT_RATE: float = Field(default=150.0, ge=0, allow_inf_nan=False)  # per second
    SOCKETIO_EVENT_BURST: int = Field(default=300, ge=1)
    SOCKETIO_FLOOD_LIMIT: int = Field(default=1000, ge=1)  # dropped beyond the rate: disconnect
    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: str = "json"
    PG_POOL_SIZE: int = Field(default=4, ge=1)
    PG_POOL_MAX: int = Field(default=12, ge=1)
    # Chat trash and retention (application/retention.py); days may be fractional.
    CHAT_TRASH_RETENTION_DAYS: float = Field(default=30.0, ge=0, le=1e5, allow_inf_nan=False)
    CHAT_RETENTION_DAYS: float = Field(default=0.0, ge=0, le=1e5, allow_inf_nan=False)  # 0: off
    RETENTION_INTERVAL_SECONDS: float = Field(default=3600.0, ge=0, le=1e9,
                                              allow_inf_nan=False)  # 0: not scheduled
    # The Open WebUI web app (`chronicle frontend install`); unset: DATA_DIR/frontend.
    FRONTEND_BUILD_DIR: Path | None = None

    @field_validator("DEFAULT_USER_ROLE")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in {"pending", "user", "admin"}:
            raise ValueError("DEFAULT_USER_ROLE must be pending, user or admin")
        return value

    @field_validator("FRONTEND_BUILD_DIR", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return value or None

    @property
    def uses_postgres(self) -> bool:
        return self.DATABASE_URL.startswith(("postgres://", "postgresql://"))

    @property
    def frontend_dir(self) -> Path:
        return self.FRONTEND_BUILD_DIR or self.DATA_DIR / "frontend"

    @property
    def jwt_expiry_seconds(self) -> int | None:
        return parse_duration(self.JWT_EXPIRES_IN)

    def secret_key(self) -> str:
        """The JWT/KEK secret; generated once and kept in DATA_DIR when not configured."""
        if self.WEBUI_SECRET_KEY:
            return self.WEBUI_SECRET_KEY
        path = self.DATA_DIR / ".webui_secret_key"
        self.DATA_DIR.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            tmp.replace(path)
        self.WEBUI_SECRET_KEY = path.read_text().strip()
        return self.WEBUI_SECRET_KEY
