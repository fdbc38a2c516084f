"""GeoAlchemy2 models of the schema that ``geo/migrations`` creates.

The migrations are the source of truth (they also hold the CHECK constraints and the
append-only triggers); these classes mirror their tables and columns for the ORM, and a
test compares the two so they cannot drift apart.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from geoalchemy2 import Geography, Geometry, WKBElement
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import CIDR, INT4MULTIRANGE, INT4RANGE, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AppUser",
    "Area",
    "AreaKind",
    "Base",
    "Category",
    "CategoryKind",
    "CommunityModeration",
    "Exchange",
    "ExchangeModeration",
    "Feature",
    "FeatureStatus",
    "FeatureVersion",
    "Flag",
    "FlagStatus",
    "ImportFilePart",
    "ImportRow",
    "ImportRowOutcome",
    "ImportRun",
    "ImportRunStatus",
    "Job",
    "JobRun",
    "LedgerTransfer",
    "Loan",
    "LoginFailure",
    "MagicLink",
    "MailOutbox",
    "MailSchedule",
    "MailSubscription",
    "Message",
    "MessageReport",
    "MessageThread",
    "MissionSlot",
    "MissionWeek",
    "ModerationAction",
    "ModerationEvent",
    "Photo",
    "RateCounter",
    "Resident",
    "ResidentAddress",
    "ResidentBlock",
    "ResidentErasure",
    "ResidentProfile",
    "Signup",
    "SignupAudit",
    "SignupItem",
    "SourceRow",
    "SourceSyncRun",
    "Submission",
    "SubmissionStatus",
    "TileDirty",
    "TimebankAccount",
    "UserRole",
    "UserSession",
]


class AreaKind(enum.StrEnum):
    """The one fixed value of ``area.kind``: the city's outline (depth 0).

    Every other area stores its level's slug from ``city.json`` (Paris: ``arrondissement``,
    ``quartier``; text since ``0008_area_levels``); code asks for a ``depth`` (1: the
    first level...), never for a city's level names.
    """

    city = "city"


class CategoryKind(enum.StrEnum):
    """What a category's pins are."""

    place = "place"
    event = "event"
    offer = "offer"
    mission = "mission"


class SubmissionStatus(enum.StrEnum):
    """Where a submission is in the pipeline."""

    received = "received"
    invalid = "invalid"
    pending = "pending"
    approved = "approved"
    refused = "refused"
    merged = "merged"
    withdrawn = "withdrawn"  # by the resident, from the tracking page (0007)


class FeatureStatus(enum.StrEnum):
    """Whether a feature is on the public map."""

    published = "published"
    hidden = "hidden"  # flagged by enough residents, waiting for a moderator
    unpublished = "unpublished"


class ModerationAction(enum.StrEnum):
    """What an audit event records."""

    approve = "approve"
    refuse = "refuse"
    edit = "edit"
    merge = "merge"
    unpublish = "unpublish"
    restore = "restore"
    hide = "hide"
    dismiss_flags = "dismiss_flags"
    import_ = "import"
    block = "block"      # a client key / network blocked (moderation.blocks, 0006)
    unblock = "unblock"


class FlagStatus(enum.StrEnum):
    """A resident's flag, before and after review."""

    open = "open"
    upheld = "upheld"
    dismissed = "dismissed"


class UserRole(enum.StrEnum):
    """Roles of accounts; residents need none."""

    moderator = "moderator"
    admin = "admin"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e],
                create_type=False)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}


def _point() -> Geometry:
    return Geometry("POINT", srid=4326, spatial_index=False)


class Area(Base):
    """The city's outline (depth 0) or an area of one of its levels, with its boundary."""

    __tablename__ = "area"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)  # the level's slug in city.json, or "city"
    depth: Mapped[int] = mapped_column(SmallInteger)  # 0: the city, 1: first level...
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=func.now())


class AppUser(Base):
    """A moderator or admin account."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lang: Mapped[str] = mapped_column(Text, server_default="fr")


class Category(Base):
    """A kind of pin, with its labels, fields, audiences and style."""

    __tablename__ = "category"

    slug: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[CategoryKind] = mapped_column(_enum(CategoryKind, "category_kind"))
    label_fr: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    description_fr: Mapped[str] = mapped_column(Text, server_default="")
    description_en: Mapped[str] = mapped_column(Text, server_default="")
    colour: Mapped[str] = mapped_column(Text)
    icon: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    audiences: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    accessibility: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")


class Feature(Base):
    """A published (or once published) pin; ``id`` is its stable public identifier."""

    __tablename__ = "feature"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    status: Mapped[FeatureStatus] = mapped_column(_enum(FeatureStatus, "feature_status"),
                                                  server_default="published")
    category: Mapped[str] = mapped_column(ForeignKey("category.slug"))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    geom: Mapped[WKBElement] = mapped_column(_point())
    # Its areas by depth (issue 15, 0016_area_refs): [1] the first level's, [2] the second's...
    area_ids: Mapped[list[int | None]] = mapped_column(ARRAY(Integer), server_default="{}")
    source: Mapped[str] = mapped_column(Text, server_default="resident")
    source_ref: Mapped[str | None] = mapped_column(Text)
    attribution: Mapped[str | None] = mapped_column(Text)
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("feature.id"))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                   server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    # The one FK of the feature <-> submission cycle that is added after both tables.
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission.id", use_alter=True, name="feature_submission_id_fkey"))


class Submission(Base):
    """One submission exactly as received, then what validation and moderation made of it."""

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    source: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    client_key: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[SubmissionStatus] = mapped_column(
        _enum(SubmissionStatus, "submission_status"), server_default="received")
    errors: Mapped[list[Any] | None] = mapped_column(JSONB)
    category: Mapped[str | None] = mapped_column(ForeignKey("category.slug"))
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    geom: Mapped[WKBElement | None] = mapped_column(_point())
    # Its areas by depth (issue 15, 0016_area_refs): [1] the first level's, [2] the second's...
    area_ids: Mapped[list[int | None]] = mapped_column(ARRAY(Integer), server_default="{}")
    possible_duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("feature.id"))
    # 0019_pending_duplicates: a near-identical submission still pending (not yet public).
    possible_duplicate_submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission.id", ondelete="SET NULL"))
    spam_score: Mapped[float] = mapped_column(Float(precision=24), server_default="0")
    spam_reasons: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    tracking_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary, unique=True)
    feature_id: Mapped[int | None] = mapped_column(ForeignKey("feature.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    # 0005_mail: the resident's address lives in resident_address; their language here.
    resident_address_id: Mapped[int | None] = mapped_column(ForeignKey("resident_address.id"))
    lang: Mapped[str | None] = mapped_column(Text)
    # 0012_residents: the signed-in resident who submitted it (the item's organiser).
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))


class FeatureVersion(Base):
    """A feature as it was at one version: every edit keeps the previous state."""

    __tablename__ = "feature_version"

    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[FeatureStatus] = mapped_column(_enum(FeatureStatus, "feature_status"))
    category: Mapped[str] = mapped_column(Text)  # checked on `feature` (0020)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    geom: Mapped[WKBElement] = mapped_column(_point())
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # checked at commit (0020): an import writes its versions before its one event
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderation_event.id", deferrable=True, initially="DEFERRED"))


class ModerationEvent(Base):
    """One audited moderation action (append-only)."""

    __tablename__ = "moderation_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[ModerationAction] = mapped_column(
        _enum(ModerationAction, "moderation_action"))
    # The one FK of the feature <-> submission cycle that is added after both tables.
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission.id", use_alter=True, name="feature_submission_id_fkey"))
    feature_id: Mapped[int | None] = mapped_column(ForeignKey("feature.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # A decision on a whole import run (0003_imports).
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))


class Flag(Base):
    """A resident's report on a published feature."""

    __tablename__ = "flag"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    reason: Mapped[str] = mapped_column(Text)
    client_key: Mapped[str] = mapped_column(Text)
    status: Mapped[FlagStatus] = mapped_column(_enum(FlagStatus, "flag_status"),
                                               server_default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class TileDirty(Base):
    """A tile to rebuild: the queue between publication and the tile pipeline."""

    __tablename__ = "tile_dirty"

    z: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    x: Mapped[int] = mapped_column(Integer, primary_key=True)
    y: Mapped[int] = mapped_column(Integer, primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=func.now())


class UserSession(Base):
    """A moderator's login session; only the SHA-256 of its random id is stored."""

    __tablename__ = "user_session"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                   server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginFailure(Base):
    """One failed login, keyed by hashes of the account and the client (throttling)."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    account_key: Mapped[str] = mapped_column(Text)
    client_key: Mapped[str] = mapped_column(Text)


class RateCounter(Base):
    """Submissions of one client in one fixed window: rate limits shared by every worker."""

    __tablename__ = "rate_counter"

    client_key: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, server_default="1")


class ImportRunStatus(enum.StrEnum):
    """Where an import run is: running, then waiting for a moderator or decided."""

    running = "running"
    pending = "pending"
    published = "published"
    refused = "refused"
    failed = "failed"


class ImportRowOutcome(enum.StrEnum):
    """What validation made of one imported row (``unchanged``: same bytes as before)."""

    valid = "valid"
    invalid = "invalid"
    unchanged = "unchanged"


class ImportRun(Base):
    """One ``carte import`` of one file: its options, summary, status and decision."""

    __tablename__ = "import_run"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[bytes] = mapped_column(LargeBinary)
    file_size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(Text)
    crs: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    status: Mapped[ImportRunStatus] = mapped_column(
        _enum(ImportRunStatus, "import_run_status"), server_default="running")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str | None] = mapped_column(Text)


class ImportFilePart(Base):
    """A part (<= 16 MiB) of an imported file, exactly as received."""

    __tablename__ = "import_file_part"

    run_id: Mapped[int] = mapped_column(ForeignKey("import_run.id"), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRow(Base):
    """One imported row as read, its outcome and its normalised record (append-only).

    No foreign keys on purpose: a statement-level trigger checks the run, categories and
    areas of a whole COPY at once (see migration ``0003_imports``).
    """

    __tablename__ = "import_row"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    row_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(Text)
    # The row's bytes, or where they are in the stored file (``import_row_raw`` reads both).
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_offset: Mapped[int | None] = mapped_column(BigInteger)
    raw_length: Mapped[int | None] = mapped_column(Integer)
    row_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome: Mapped[ImportRowOutcome] = mapped_column(
        _enum(ImportRowOutcome, "import_row_outcome"))
    changed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    errors: Mapped[list[Any] | None] = mapped_column(JSONB)
    category: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    geom: Mapped[WKBElement | None] = mapped_column(_point())
    # Its areas by depth (issue 15, 0016_area_refs): [1] the first level's, [2] the second's...
    area_ids: Mapped[list[int | None]] = mapped_column(ARRAY(Integer), server_default="{}")


# --- 0005_mail: addresses kept apart, the outbox, subscriptions (see mail/) -----------


class ResidentAddress(Base):
    """An e-mail address a resident gave, once; never public, erasable."""

    __tablename__ = "resident_address"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class MailOutbox(Base):
    """One message to send, rendered when it was decided (see :mod:`mail.outbox`)."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    to_addr: Mapped[str] = mapped_column(Text)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("resident_address.id"))
    template: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(Text, unique=True)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    status: Mapped[str] = mapped_column(Text, server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                      server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # 0014_signups: files sent with the message ([{filename, media_type, data_b64}])
    attachments: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")


class MailSubscription(Base):
    """A subscription to new items of a category and/or an area (double opt-in)."""

    __tablename__ = "mail_subscription"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("resident_address.id"))
    category: Mapped[str | None] = mapped_column(ForeignKey("category.slug"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    lang: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MailSchedule(Base):
    """A periodic task of ``carte worker``: when it last ran and how far it got."""

    __tablename__ = "mail_schedule"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                              server_default=func.now())
    cursor: Mapped[int] = mapped_column(BigInteger, server_default="0")


class ResidentErasure(Base):
    """Audit of one ``carte residents forget`` (a keyed hash, never the address)."""

    __tablename__ = "resident_erasure"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    email_hash: Mapped[str] = mapped_column(Text)
    removed: Mapped[dict[str, Any]] = mapped_column(JSONB)


# --- 0006_mod_accounts: recovery links and client blocks (see moderation/) ------------


class AccountToken(Base):
    """A single-use link sent by e-mail (reset, invite); only its SHA-256 is stored."""

    __tablename__ = "account_token"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ClientBlock(Base):
    """A moderator's block of a client key or network range, until a time."""

    __tablename__ = "client_block"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    client_key: Mapped[str | None] = mapped_column(Text)
    network: Mapped[str | None] = mapped_column(CIDR)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lifted_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    submission_id: Mapped[int | None] = mapped_column(BigInteger)
    feature_id: Mapped[int | None] = mapped_column(BigInteger)
    flag_id: Mapped[int | None] = mapped_column(BigInteger)


# --- 0007_corrections, 0010: residents' corrections and closures (see ingestion/) -----


class Correction(Base):
    """A correction or closure proposed for a published feature, kept as received.

    Append-only like ``submission``; the address lives in ``resident_address``.
    """

    __tablename__ = "correction"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id"))
    base_version: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(Text)
    client_key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="received")
    errors: Mapped[Any] = mapped_column(JSONB)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    closed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    comment: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(Text)
    tracking_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary, unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    new_version: Mapped[int | None] = mapped_column(Integer)
    resident_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident_address.id", ondelete="SET NULL"))


# --- 0009_jobs: long work run by carte worker (see geo/jobs.py) -----------------------


class Job(Base):
    """A job for ``carte worker``: kind, payload, state and result."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    status: Mapped[str] = mapped_column(Text, server_default="queued")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    max_attempts: Mapped[int] = mapped_column(Integer, server_default="3")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)


class JobRun(Base):
    """A job's progress and start count, written while its transaction runs."""

    __tablename__ = "job_run"

    job_id: Mapped[int] = mapped_column(ForeignKey("job.id"), primary_key=True)
    starts: Mapped[int] = mapped_column(Integer, server_default="0")
    done: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


# ---- issue 19: photos (photos engineer) ----


class Photo(Base):
    """A resident's photo: kept as received (quarantine), then ready or refused.

    Public exactly when ``feature_id`` is set, ``status = 'ready'`` and the feature is
    published (see :mod:`photos.store`); the keys name the public re-encodings.
    """

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"))
    correction_id: Mapped[int | None] = mapped_column(ForeignKey("correction.id"))
    feature_id: Mapped[int | None] = mapped_column(ForeignKey("feature.id"))
    upload_token_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, server_default="quarantined")
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    original_name: Mapped[str | None] = mapped_column(Text)
    original_sha256: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    display_key: Mapped[str | None] = mapped_column(Text)
    thumb_key: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str] = mapped_column(Text, server_default="CC-BY-SA-4.0")
    author: Mapped[str | None] = mapped_column(Text)
    alt: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


# ---- issue 20: residents, magic links, relayed messages, blocks (identity engineer) ----


class Resident(Base):
    """A resident who signed in by e-mail (0012_residents; see :mod:`community.residents`).

    ``email`` is kept only to relay messages; lookups use ``email_hash`` (keyed HMAC).
    A deleted account keeps its row, anonymised, so what it contributed stays linked.
    """

    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    email_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    email: Mapped[str | None] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(Text, server_default="fr")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    messaging_blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    messaging_blocked_reason: Mapped[str | None] = mapped_column(Text)


class MagicLink(Base):
    """A single-use sign-in link; only the SHA-256 of its token is stored."""

    __tablename__ = "magic_link"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    resident_email_hash: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    client_key: Mapped[str | None] = mapped_column(Text)
    next_path: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(Text, server_default="fr")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MessageThread(Base):
    """A relayed conversation between two residents, usually about a feature."""

    __tablename__ = "message_thread"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    feature_id: Mapped[int | None] = mapped_column(ForeignKey("feature.id",
                                                              ondelete="SET NULL"))
    starter_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                      server_default=func.now())


class Message(Base):
    """One message of a thread; moderators may hide it (who, when, why)."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("message_thread.id",
                                                      ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    spam_score: Mapped[float] = mapped_column(Float(precision=24), server_default="0")
    spam_reasons: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    hidden_reason: Mapped[str | None] = mapped_column(Text)


class ResidentBlock(Base):
    """A resident blocks another: no message passes either way."""

    __tablename__ = "resident_block"

    blocker_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class CommunityModeration(Base):
    """Audit of a moderator's action on a message or a resident (append-only)."""

    __tablename__ = "community_moderation"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[str] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id",
                                                              ondelete="SET NULL"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    reason: Mapped[str] = mapped_column(Text)


# ---- issue 17 wave 5: a resident reports a message (residents engineer) ----


class MessageReport(Base):
    """A resident reports a message they received (0023_message_reports), once each.

    Open until a moderator hides the message, stops its sender or dismisses it.
    """

    __tablename__ = "message_report"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    resolution: Mapped[str | None] = mapped_column(Text)


# ---- issue 20: time bank ledger, loans (ledger engineer) ----


class TimebankAccount(Base):
    """A resident's time bank account (0013_ledger); ``balance`` in quarter-hours.

    Moved only by the ledger's insert trigger, so it always equals the sum of the
    account's transfers (``carte_timebank_check()``).
    """

    __tablename__ = "timebank_account"

    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, server_default="0")
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=func.now())


class Exchange(Base):
    """A time exchange: proposed, recorded by the giver, confirmed or disputed."""

    __tablename__ = "exchange"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    feature_id: Mapped[int | None] = mapped_column(ForeignKey("feature.id"))
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("message_thread.id", ondelete="SET NULL"))
    giver_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    receiver_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    started_by: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    status: Mapped[str] = mapped_column(Text, server_default="proposed")
    units: Mapped[int | None] = mapped_column(Integer)
    happened_on: Mapped[Any] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LedgerTransfer(Base):
    """One balanced ledger transaction: ``units`` from one account to another.

    Append-only; a correction is a ``reversal`` row mirroring the transfer.
    """

    __tablename__ = "ledger_transfer"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    debit_account: Mapped[int] = mapped_column(ForeignKey("timebank_account.resident_id"))
    credit_account: Mapped[int] = mapped_column(ForeignKey("timebank_account.resident_id"))
    units: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(Text)
    exchange_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    reverses: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    booked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                server_default=func.now())
    debit_balance_after: Mapped[int] = mapped_column(BigInteger)
    credit_balance_after: Mapped[int] = mapped_column(BigInteger)


class Loan(Base):
    """A loan (or barter, gift) of an object offered on the map, step by step."""

    __tablename__ = "loan"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id"))
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("message_thread.id", ondelete="SET NULL"))
    lender_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    borrower_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    kind: Mapped[str] = mapped_column(Text, server_default="loan")
    status: Mapped[str] = mapped_column(Text, server_default="requested")
    starts_on: Mapped[Any] = mapped_column(Date)
    due_on: Mapped[Any] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    agreed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lent_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_declared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders: Mapped[int] = mapped_column(Integer, server_default="0")


class ExchangeModeration(Base):
    """A moderator's reversal or cancellation of an exchange or a loan (append-only)."""

    __tablename__ = "exchange_moderation"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[str] = mapped_column(Text)
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchange.id"))
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loan.id"))
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transfer.id"))
    reason: Mapped[str] = mapped_column(Text)



# ---- issue 20: availability, sign-ups, registrations (missions engineer) ----
class ResidentProfile(Base):
    """A resident's availability slots, skills and area (0014_signups)."""

    __tablename__ = "resident_profile"

    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"),
                                             primary_key=True)
    availability: Mapped[list[Any]] = mapped_column(JSONB, server_default="[]")
    skills: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    geom: Mapped[WKBElement | None] = mapped_column(_point())
    radius_m: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class MissionWeek(Base):
    """A published mission's weekly slots and position, for "Missions for me".

    Kept by a trigger on ``feature`` (0014_signups); ``week`` is minutes of the week.
    """

    __tablename__ = "mission_week"

    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id", ondelete="CASCADE"),
                                            primary_key=True)
    week: Mapped[Any] = mapped_column(INT4MULTIRANGE)
    geog: Mapped[Any] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    live_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int | None] = mapped_column(Integer)
    confirmed: Mapped[int] = mapped_column(Integer, server_default="0")
    closed: Mapped[bool] = mapped_column(Boolean, server_default="false")


class MissionSlot(Base):
    """One slot range (minutes of the week) of a published mission (0014_signups)."""

    __tablename__ = "mission_slot"

    feature_id: Mapped[int] = mapped_column(
        ForeignKey("mission_week.feature_id", ondelete="CASCADE"), primary_key=True)
    during: Mapped[Any] = mapped_column(INT4RANGE, primary_key=True)


class SignupItem(Base):
    """A mission or event that took sign-ups: counters (kept by a trigger), organiser."""

    __tablename__ = "signup_item"

    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id", ondelete="CASCADE"),
                                            primary_key=True)
    confirmed: Mapped[int] = mapped_column(Integer, server_default="0")
    waiting: Mapped[int] = mapped_column(Integer, server_default="0")
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    named_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    named_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Signup(Base):
    """A resident's sign-up to a mission or registration to an event."""

    __tablename__ = "signup"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    status: Mapped[str] = mapped_column(Text)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(Text)
    cancelled_by_user: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignupAudit(Base):
    """What a moderator did to sign-ups (cancel one, name an organiser), with why."""

    __tablename__ = "signup_audit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    action: Mapped[str] = mapped_column(Text)
    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id", ondelete="CASCADE"))
    signup_id: Mapped[int | None] = mapped_column(ForeignKey("signup.id", ondelete="CASCADE"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    reason: Mapped[str] = mapped_column(Text)



# ---- issue 21: synchronised sources (sync engineer) ----


class SourceRow(Base):
    """What a synchronised source last said of one row: its feature and content hash."""

    __tablename__ = "source_row"

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    ref: Mapped[str] = mapped_column(Text, primary_key=True)
    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id"))
    content_hash: Mapped[bytes] = mapped_column(LargeBinary)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))
    row_number: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text, server_default="active")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class SourceSyncRun(Base):
    """One synchronisation of a source: its report and status (held runs wait here)."""

    __tablename__ = "source_sync_run"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(Text, server_default="cli")
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_run.id"))
    status: Mapped[str] = mapped_column(Text, server_default="running")
    hold_reason: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
