"""Console sign-in use cases: passwords (argon2), TOTP, and server-side sessions keyed by token digests.

A session token is 256 random bits handed to the browser (in a signed cookie); the database keeps only
its SHA-256, so a copy of the table opens no session, and "sign out everywhere" is one DELETE. Sessions
end after `SESSION_LIFETIME`, or after `SESSION_IDLE` without a request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from hub.console.models import ConsoleCredential, ConsoleSession
from hub.errors import Unprocessable
from hub.store.audit import record
from hub.trust.models import Account, Organisation
from hub.trust.service import Principal, principal_for

SESSION_LIFETIME = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
# last_seen_at is refreshed at most this often, so that reading pages does not write on every request
TOUCH_EVERY = timedelta(minutes=1)
MIN_PASSWORD = 12
MAX_PASSWORD = 256
TOTP_ISSUER = "CIRT hub"

_hasher = PasswordHasher()
# verified against when the account is unknown, so that an unknown name costs what a wrong password costs
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def digest(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_user(user: str) -> tuple[str, str] | None:
    """'account@organisation' -> (account, organisation); None when it is not of that form."""
    name, sep, org = user.strip().rpartition("@")
    if not sep or not name or not org or len(name) > 128 or len(org) > 64:
        return None
    return name, org.lower()


def find_account(session: Session, user: str) -> tuple[Account, Organisation] | None:
    """The account a sign-in name stands for, or None."""
    parsed = parse_user(user)
    if parsed is None:
        return None
    row = session.execute(
        select(Account, Organisation)
        .join(Organisation, Account.organisation_id == Organisation.id)
        .where(Account.name == parsed[0], Organisation.slug == parsed[1])
    ).first()
    return (row[0], row[1]) if row is not None else None


def check_password_rules(password: str) -> None:
    """422 for a password too short or too long."""
    if len(password) < MIN_PASSWORD:
        raise Unprocessable(f"A console password has at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise Unprocessable(f"A console password has at most {MAX_PASSWORD} characters.")


def set_password(session: Session, *, account: Account, password: str) -> None:
    """Give an account a console password (replacing any); its open sessions end."""
    check_password_rules(password)
    cred = session.get(ConsoleCredential, account.id)
    if cred is None:
        cred = ConsoleCredential(account_id=account.id, password_hash="", changed_at=_now())
        session.add(cred)
    cred.password_hash = _hasher.hash(password)
    cred.changed_at = _now()
    session.flush()
    end_all_sessions(session, account_id=account.id)
    record(
        session,
        action="console.password",
        organisation_id=account.organisation_id,
        account_id=account.id,
        detail=f"console password set for {account.name}",
    )


@dataclass(frozen=True)
class SignInCheck:
    """What a sign-in attempt found; `account` is set only when the password (and code) are right."""

    account: Account | None
    org: Organisation | None
    needs_code: bool = False
    totp_step: int | None = None  # the code's time step, to claim with `claim_totp_step`


def check_sign_in(session: Session, *, user: str, password: str, code: str) -> SignInCheck:
    """Check a name, password and (when the account has TOTP) code; always costs one argon2 verify."""
    found = find_account(session, user)
    cred = session.get(ConsoleCredential, found[0].id) if found is not None else None
    ok = _verify(cred.password_hash if cred is not None else _DUMMY_HASH, password[:MAX_PASSWORD])
    if found is None or cred is None or not ok or not found[1].active:
        return SignInCheck(None, found[1] if found else None)
    account, org = found
    if cred.totp_secret:
        step = _totp_step(cred.totp_secret, code)
        if step is None or (cred.totp_last_step is not None and step <= cred.totp_last_step):
            return SignInCheck(None, org, needs_code=True)
        return SignInCheck(account, org, totp_step=step)
    return SignInCheck(account, org)


def claim_totp_step(session: Session, *, account_id: int, step: int) -> bool:
    """Record a TOTP code as used; False when it (or a later one) was used already (a replay)."""
    result = session.execute(
        update(ConsoleCredential)
        .where(
            ConsoleCredential.account_id == account_id,
            or_(ConsoleCredential.totp_last_step.is_(None), ConsoleCredential.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _totp_step(secret: str, code: str) -> int | None:
    """The time step (now, or one either side for clock drift) whose code this is; None when none."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit()) or len(code) != 6:  # "²" is a digit to isdigit()
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(_now())
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _verify(hashed: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(hashed, password))
    except (VerificationError, InvalidHashError):
        return False


def verify_password(session: Session, *, account_id: int, password: str) -> bool:
    """Whether this is the account's current console password (to confirm a change)."""
    cred = session.get(ConsoleCredential, account_id)
    return cred is not None and _verify(cred.password_hash, password[:MAX_PASSWORD])


def has_totp(session: Session, *, account_id: int) -> bool:
    """Whether the account signs in with a TOTP code."""
    cred = session.get(ConsoleCredential, account_id)
    return bool(cred is not None and cred.totp_secret)


def set_language(session: Session, *, account_id: int, language: str | None) -> None:
    """Choose the console's language for an account (None: follow the browser); 422 for an unknown one."""
    from hub.console.i18n import LANGUAGES

    if language is not None and language not in LANGUAGES:
        raise Unprocessable(f"language: one of {', '.join(LANGUAGES)}, or empty for the browser's")
    cred = session.get(ConsoleCredential, account_id)
    if cred is None:  # a signed-in account has credentials; nothing to remember otherwise
        raise Unprocessable("This account has no console password.")
    cred.language = language
    session.flush()


def begin_totp(session: Session, *, account: Account, org: Organisation) -> tuple[str, str]:
    """Start TOTP enrolment: a new secret (pending until a code confirms it) and its otpauth URI."""
    cred = session.get(ConsoleCredential, account.id)
    if cred is None:
        raise Unprocessable("Set a console password before two-step verification.")
    if not cred.totp_pending:
        cred.totp_pending = pyotp.random_base32()
        session.flush()
    uri = pyotp.TOTP(cred.totp_pending).provisioning_uri(
        name=f"{account.name}@{org.slug}", issuer_name=TOTP_ISSUER
    )
    return cred.totp_pending, uri


def confirm_totp(session: Session, *, account: Account, code: str) -> bool:
    """Finish enrolment with a code from the pending secret; False (nothing changed) for a wrong code."""
    cred = session.get(ConsoleCredential, account.id)
    if cred is None or not cred.totp_pending:
        return False
    step = _totp_step(cred.totp_pending, code)
    if step is None:
        return False
    cred.totp_secret, cred.totp_pending, cred.totp_last_step = cred.totp_pending, None, step
    _totp_changed(session, account, "enabled")
    return True


def disable_totp(session: Session, *, account: Account) -> None:
    """Turn two-step verification off for an account."""
    cred = session.get(ConsoleCredential, account.id)
    if cred is not None:
        cred.totp_secret = cred.totp_pending = cred.totp_last_step = None
        _totp_changed(session, account, "disabled")


def _totp_changed(session: Session, account: Account, state: str) -> None:
    session.flush()
    record(
        session,
        action="console.totp",
        organisation_id=account.organisation_id,
        account_id=account.id,
        detail=f"two-step verification {state} for {account.name}",
    )


# ---------------------------------------------------------------- sessions


def create_session(session: Session, *, account: Account, address: str) -> str:
    """Open a console session; return its token (never stored)."""
    token = secrets.token_urlsafe(32)
    now = _now()
    session.add(
        ConsoleSession(
            token_digest=digest(token),
            account_id=account.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
            address=address[:64],
        )
    )
    # expired sessions of this account go now: the table holds no more than live sessions plus a few
    session.execute(
        delete(ConsoleSession).where(ConsoleSession.account_id == account.id, ConsoleSession.expires_at < now)
    )
    session.flush()
    record(
        session,
        action="console.sign-in",
        organisation_id=account.organisation_id,
        account_id=account.id,
        detail=f"{account.name} signed in to the console from {address or 'an unknown address'}"[:300],
    )
    return token


@dataclass(frozen=True)
class SignedIn:
    """A live console session: plain values of its account and organisation, and the principal."""

    session_id: int
    token_digest: str
    account_id: int
    account_name: str
    org_id: int
    org_slug: str
    org_name: str
    principal: Principal
    stale: bool  # last_seen_at should be refreshed
    language: str | None = None  # the console language chosen on the account page; None: the browser's

    @property
    def user(self) -> str:
        """The sign-in name, 'account@organisation'."""
        return f"{self.account_name}@{self.org_slug}"


def resolve_session(session: Session, token: str) -> SignedIn | None:
    """The live session of a token, or None (unknown, expired, idle too long, organisation inactive)."""
    row = session.execute(
        select(ConsoleSession, Account, Organisation, ConsoleCredential.language)
        .join(Account, ConsoleSession.account_id == Account.id)
        .join(Organisation, Account.organisation_id == Organisation.id)
        .outerjoin(ConsoleCredential, ConsoleCredential.account_id == Account.id)
        .where(ConsoleSession.token_digest == digest(token))
    ).first()
    if row is None:
        return None
    cs, account, org, language = row
    now = _now()
    if _aware(cs.expires_at) <= now or _aware(cs.last_seen_at) + SESSION_IDLE <= now or not org.active:
        return None
    return SignedIn(
        session_id=cs.id,
        token_digest=cs.token_digest,
        account_id=account.id,
        account_name=account.name,
        org_id=org.id,
        org_slug=org.slug,
        org_name=org.name,
        principal=principal_for(session, account=account, org=org),
        stale=_aware(cs.last_seen_at) + TOUCH_EVERY <= now,
        language=language,
    )


def touch_session(session: Session, *, session_id: int) -> None:
    """Record activity on a session (for the idle timeout)."""
    cs = session.get(ConsoleSession, session_id)
    if cs is not None:
        cs.last_seen_at = _now()
        session.flush()


def end_session(session: Session, *, token_digest: str) -> None:
    """Sign one browser out."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_digest == token_digest))
    session.flush()


def end_all_sessions(session: Session, *, account_id: int) -> int:
    """Sign an account out everywhere; return how many sessions ended."""
    result = session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account_id))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def list_sessions(session: Session, *, account_id: int) -> list[ConsoleSession]:
    """An account's live sessions, newest first."""
    now = _now()
    rows = session.scalars(
        select(ConsoleSession)
        .where(ConsoleSession.account_id == account_id)
        .order_by(ConsoleSession.created_at.desc())
    )
    return [r for r in rows if _aware(r.expires_at) > now and _aware(r.last_seen_at) + SESSION_IDLE > now]
