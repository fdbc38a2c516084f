"""Initial schema: areas, categories, intake, published features, audit, flags, users, tiles.

Written as SQL because most of what matters here is constraints the ORM does not model
well: invalid states are refused by the database itself, whoever writes to it.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- PostGIS accepts POINT(NaN NaN), empty points and latitude 500: we do not.
-- NaN compares greater than every number in PostgreSQL, so BETWEEN refuses it.
CREATE FUNCTION carte_is_lonlat(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(
    GeometryType(g) = 'POINT' AND NOT ST_IsEmpty(g)
    AND ST_X(g) BETWEEN -180 AND 180 AND ST_Y(g) BETWEEN -90 AND 90,
    false)
$$;

CREATE FUNCTION carte_nonblank(t text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(btrim(t, E' \t\r\n\u00a0') <> '', false)
$$;

CREATE TYPE area_kind AS ENUM ('city', 'arrondissement', 'quartier');
CREATE TYPE category_kind AS ENUM ('place', 'event', 'offer', 'mission');
CREATE TYPE submission_status AS ENUM
  ('received', 'invalid', 'pending', 'approved', 'refused', 'merged');
CREATE TYPE feature_status AS ENUM ('published', 'hidden', 'unpublished');
CREATE TYPE moderation_action AS ENUM
  ('approve', 'refuse', 'edit', 'merge', 'unpublish', 'restore', 'hide', 'dismiss_flags',
   'import');
CREATE TYPE flag_status AS ENUM ('open', 'upheld', 'dismissed');
CREATE TYPE user_role AS ENUM ('moderator', 'admin');

CREATE TABLE area (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        area_kind NOT NULL,
  code        text NOT NULL UNIQUE CHECK (code ~ '^[0-9A-Za-z]+$'),
  name        text NOT NULL CHECK (carte_nonblank(name)),
  parent_id   integer REFERENCES area(id),
  geom        geometry(MultiPolygon, 4326) NOT NULL
              CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
  loaded_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'city') = (parent_id IS NULL))
);
CREATE INDEX area_geom_gist ON area USING gist (geom);
CREATE INDEX area_kind_idx ON area (kind);

CREATE TABLE app_user (
  id             integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email          text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
  password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2%'),
  role           user_role NOT NULL,
  active         boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz
);
CREATE UNIQUE INDEX app_user_email_key ON app_user (lower(email));

CREATE TABLE category (
  slug            text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  kind            category_kind NOT NULL,
  label_fr        text NOT NULL CHECK (carte_nonblank(label_fr)),
  label_en        text NOT NULL CHECK (carte_nonblank(label_en)),
  description_fr  text NOT NULL DEFAULT '',
  description_en  text NOT NULL DEFAULT '',
  colour          text NOT NULL CHECK (colour ~ '^#[0-9a-f]{6}$'),
  icon            text NOT NULL CHECK (carte_nonblank(icon)),
  fields          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(fields) = 'array'),
  audiences       text[] NOT NULL DEFAULT '{}',
  accessibility   text[] NOT NULL DEFAULT '{}',
  position        integer NOT NULL DEFAULT 0,
  active          boolean NOT NULL DEFAULT true
);

CREATE TABLE feature (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  status            feature_status NOT NULL DEFAULT 'published',
  category          text NOT NULL REFERENCES category(slug),
  title             text NOT NULL CHECK (carte_nonblank(title) AND char_length(title) <= 120),
  description       text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
  starts_at         timestamptz,
  ends_at           timestamptz,
  attributes        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  geom              geometry(Point, 4326) NOT NULL CHECK (carte_is_lonlat(geom)),
  arrondissement_id integer REFERENCES area(id),
  quartier_id       integer REFERENCES area(id),
  source            text NOT NULL DEFAULT 'resident' CHECK (carte_nonblank(source)),
  source_ref        text,
  attribution       text,
  merged_into       bigint REFERENCES feature(id),
  version           integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  published_at      timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at >= starts_at),
  CHECK (merged_into IS NULL OR (merged_into <> id AND status = 'unpublished')),
  UNIQUE (source, source_ref)
);
CREATE INDEX feature_geom_gist ON feature USING gist (geom);
CREATE INDEX feature_published_geom_gist ON feature USING gist (geom)
  WHERE status = 'published';
CREATE INDEX feature_category_idx ON feature (category);
CREATE INDEX feature_updated_at_idx ON feature (updated_at);

CREATE TABLE submission (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at           timestamptz NOT NULL DEFAULT now(),
  source                text NOT NULL CHECK (carte_nonblank(source)),
  content_type          text,
  raw                   bytea NOT NULL,
  client_key            text,
  idempotency_key       text,
  status                submission_status NOT NULL DEFAULT 'received',
  errors                jsonb CHECK (errors IS NULL OR jsonb_typeof(errors) = 'array'),
  category              text REFERENCES category(slug),
  title                 text CHECK (title IS NULL
                                    OR (carte_nonblank(title) AND char_length(title) <= 120)),
  description           text CHECK (description IS NULL OR char_length(description) <= 2000),
  starts_at             timestamptz,
  ends_at               timestamptz,
  email                 text,
  attributes            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  geom                  geometry(Point, 4326) CHECK (geom IS NULL OR carte_is_lonlat(geom)),
  arrondissement_id     integer REFERENCES area(id),
  quartier_id           integer REFERENCES area(id),
  possible_duplicate_of bigint REFERENCES feature(id),
  spam_score            real NOT NULL DEFAULT 0 CHECK (spam_score >= 0),
  spam_reasons          jsonb NOT NULL DEFAULT '[]',
  tracking_token_hash   bytea UNIQUE,
  feature_id            bigint REFERENCES feature(id),
  reason                text,
  decided_at            timestamptz,
  decided_by            integer REFERENCES app_user(id),
  version               integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at >= starts_at),
  -- Only a validated submission can wait for a moderator or be decided on.
  CHECK (status IN ('received', 'invalid')
         OR (geom IS NOT NULL AND title IS NOT NULL AND category IS NOT NULL)),
  CHECK (status <> 'invalid' OR errors IS NOT NULL),
  CHECK (status <> 'refused' OR carte_nonblank(reason)),
  CHECK (status NOT IN ('approved', 'merged') OR feature_id IS NOT NULL),
  UNIQUE (source, idempotency_key)
);
CREATE INDEX submission_geom_gist ON submission USING gist (geom);
CREATE INDEX submission_pending_idx ON submission (received_at) WHERE status = 'pending';
CREATE INDEX submission_client_idx ON submission (client_key, received_at);

ALTER TABLE feature ADD COLUMN submission_id bigint REFERENCES submission(id);

-- Append-only intake: what was received is never rewritten nor deleted.
CREATE FUNCTION carte_submission_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'submission % is append-only: it cannot be deleted', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  IF NEW.raw IS DISTINCT FROM OLD.raw OR NEW.received_at IS DISTINCT FROM OLD.received_at
     OR NEW.source IS DISTINCT FROM OLD.source
     OR NEW.content_type IS DISTINCT FROM OLD.content_type THEN
    RAISE EXCEPTION 'submission %: what was received cannot be changed', OLD.id
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER submission_append_only BEFORE UPDATE OR DELETE ON submission
  FOR EACH ROW EXECUTE FUNCTION carte_submission_append_only();

CREATE TABLE moderation_event (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  actor_id       integer REFERENCES app_user(id),
  action         moderation_action NOT NULL,
  submission_id  bigint REFERENCES submission(id),
  feature_id     bigint REFERENCES feature(id),
  reason         text,
  before         jsonb,
  after          jsonb,
  CHECK (submission_id IS NOT NULL OR feature_id IS NOT NULL)
);
CREATE INDEX moderation_event_feature_idx ON moderation_event (feature_id, at);
CREATE INDEX moderation_event_submission_idx ON moderation_event (submission_id, at);

CREATE FUNCTION carte_audit_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER moderation_event_immutable BEFORE UPDATE OR DELETE ON moderation_event
  FOR EACH ROW EXECUTE FUNCTION carte_audit_immutable();

CREATE TABLE feature_version (
  feature_id   bigint NOT NULL REFERENCES feature(id),
  version      integer NOT NULL CHECK (version >= 1),
  status       feature_status NOT NULL,
  category     text NOT NULL REFERENCES category(slug),
  title        text NOT NULL,
  description  text NOT NULL,
  starts_at    timestamptz,
  ends_at      timestamptz,
  attributes   jsonb NOT NULL,
  geom         geometry(Point, 4326) NOT NULL CHECK (carte_is_lonlat(geom)),
  changed_at   timestamptz NOT NULL DEFAULT now(),
  changed_by   integer REFERENCES app_user(id),
  event_id     bigint REFERENCES moderation_event(id),
  PRIMARY KEY (feature_id, version)
);
CREATE INDEX feature_version_changed_at_idx ON feature_version (changed_at);

CREATE TABLE flag (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  feature_id   bigint NOT NULL REFERENCES feature(id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  reason       text NOT NULL CHECK (carte_nonblank(reason) AND char_length(reason) <= 1000),
  client_key   text NOT NULL,
  status       flag_status NOT NULL DEFAULT 'open',
  resolved_at  timestamptz,
  resolved_by  integer REFERENCES app_user(id),
  UNIQUE (feature_id, client_key),
  CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE INDEX flag_open_idx ON flag (feature_id) WHERE status = 'open';

CREATE TABLE tile_dirty (
  z          smallint NOT NULL CHECK (z BETWEEN 0 AND 24),
  x          integer NOT NULL,
  y          integer NOT NULL,
  marked_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (z, x, y),
  CHECK (x >= 0 AND y >= 0 AND x < (1 << z) AND y < (1 << z))
);
"""

DOWNGRADE = r"""
DROP TABLE tile_dirty;
DROP TABLE flag;
DROP TABLE feature_version;
DROP TABLE moderation_event;
DROP FUNCTION carte_audit_immutable();
ALTER TABLE feature DROP COLUMN submission_id;
DROP TABLE submission;
DROP FUNCTION carte_submission_append_only();
DROP TABLE feature;
DROP TABLE category;
DROP TABLE app_user;
DROP TABLE area;
DROP TYPE user_role;
DROP TYPE flag_status;
DROP TYPE moderation_action;
DROP TYPE feature_status;
DROP TYPE submission_status;
DROP TYPE category_kind;
DROP TYPE area_kind;
DROP FUNCTION carte_nonblank(text);
DROP FUNCTION carte_is_lonlat(geometry);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
