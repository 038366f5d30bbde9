"""Configuration: environment variables only, with Open WebUI's names where it has one."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from application.config import parse_duration


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    DATA_DIR: Path = Path("./data")
    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    WEBUI_SECRET_KEY: str = ""
    JWT_EXPIRES_IN: str = "4w"
    ENABLE_SIGNUP: bool = True
    DEFAULT_USER_ROLE: str = "pending"
    ENABLE_API_KEYS: bool = False
    ENABLE_LDAP: bool = False
    CORS_ALLOW_ORIGIN: str = "*"
    WEBUI_AUTH_COOKIE_SECURE: bool = False
    WEBUI_NAME: str = "Open WebUI"

    # Chronicle's own knobs.
    CHRONICLE_PROJECTORS: str = "embedded"  # "embedded": threads in the server; "external": a projector process
    CHRONICLE_JOBS: str = "embedded"  # "embedded": in-process; "dramatiq": Redis broker
    READ_YOUR_WRITES_TIMEOUT: float = 2.0
    COMMAND_RETRIES: int = 5
    GROUP_COMMIT_MAX_EVENTS: int = 1000
    SIGNIN_RATE_LIMIT: int = 15
    SIGNIN_RATE_WINDOW: int = 180
    LOG_LEVEL: str = "INFO"
    LOG_FORMAT: str = "json"
    PG_POOL_SIZE: int = Field(default=4, ge=1)
    PG_POOL_MAX: int = Field(default=12, ge=1)

    @field_validator("DEFAULT_USER_ROLE")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in {"pending", "user", "admin"}:
            raise ValueError("DEFAULT_USER_ROLE must be pending, user or admin")
        return value

    @property
    def uses_postgres(self) -> bool:
        return self.DATABASE_URL.startswith(("postgres://", "postgresql://"))

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
