"""ORM tables of the web console: people's sign-in credentials and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class ConsoleCredential(Base):
    """An account's console password (argon2) and, once confirmed, its TOTP secret.

    Kept beside `accounts` rather than in it: API keys remain the only credential TAXII clients use, and
    an account without a row here cannot sign in to the console at all.
    """

    __tablename__ = "console_credentials"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # the TOTP secret has to be readable to check codes; it is only ever shown during enrolment
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending: Mapped[str | None] = mapped_column(String(64))
    # the time step of the last code accepted: a code is good once, not again within its 30 s window
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the console's language for this person (hub.console.i18n.LANGUAGES); None: the browser's
    language: Mapped[str | None] = mapped_column(String(8))


class ConsoleSession(Base):
    """A signed-in browser: only the SHA-256 of its random token is stored, so the table leaks no session."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    address: Mapped[str] = mapped_column(String(64), default="")
