"""Missions and events people can join: profiles, sign-ups, waiting lists, mail attachments.

* ``resident_profile``: a resident's availability (the ``availability`` slot shape
  ``[{day, from, to}]``), skills (free tags) and area (an area id, or a point and a
  radius), set once on ``/me``.
* ``signup_item``: one row per mission or event that took a sign-up. Its ``confirmed``
  and ``waiting`` counters are kept by a trigger on ``signup`` (so they cannot drift
  from the rows), its row is what concurrent sign-ups of one item serialise on, and the
  trigger refuses a confirmed sign-up beyond the item's capacity: two last-seat
  sign-ups at once cannot both be stored, whatever the code above does. It also holds
  the organiser a moderator named (else the organiser is the resident of the item's
  originating submission) and a manual closing.
* ``signup``: who joined what, with the answers to the item's questions; ``confirmed``,
  ``waiting`` (an event's waiting list, first come first served) or ``cancelled``
  (by the resident, the organiser or a moderator, with the moderator's reason);
  ``reminded_at``: when the day-before reminder went. One active sign-up per resident
  and item (partial unique index).
* ``signup_audit``: what moderators did (cancel a sign-up, name an organiser), with
  their reason.
* ``carte_week_minutes(jsonb)``: availability slots as the minutes of the week they
  cover (``int4multirange``, Monday 00:00 = 0, a slot whose end is not after its start
  runs past midnight, Sunday night wraps to Monday); immutable and total (a malformed
  slot is ignored, never an error: it runs inside every write of a mission).
* ``mission_week``: each published mission's slots as that multirange and its position,
  kept by a trigger on ``feature`` (insert, or an update of status, attributes, geometry
  or category of a row that has or had ``availability``). "Missions for me" walks it
  nearest first (GiST KNN on ``geog``) testing ``week && mine``, a cheap comparison of
  stored values; an expression index on ``feature`` was measured first and dropped:
  GiST keeps a multirange's bounding range, so a resident free on Monday and Saturday
  matched nearly every row, each then re-parsed from JSON (~37 µs a row, > 100 ms).
  ``mission_slot`` holds the same ranges one per row (exact GiST ``&&``): when few
  missions overlap a resident's week, they are found there and sorted by distance
  instead of walking every mission nearest first.
* ``carte_capacity(jsonb)``: ``volunteers_needed`` (missions) or ``capacity`` (events),
  NULL when absent or not a positive integer (no limit).
* ``mail_outbox.attachments``: files sent with a message (``[{filename, media_type,
  data_b64}]``), for the ``.ics`` of a registration (a minimal extension of the
  outbox: the table is ``0005_mail``'s, hence the ``down_revision``).

Revision ID: 0014_signups
Revises: 0005_mail
Create Date: 2026-12-07
"""

from alembic import op

revision = "0014_signups"
down_revision = "0005_mail"
branch_labels = None
depends_on = ("0012_residents",)

UPGRADE = r"""
CREATE FUNCTION carte_week_minutes(slots jsonb) RETURNS int4multirange
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
WITH raw AS (
  SELECT array_position(ARRAY['mon','tue','wed','thu','fri','sat','sun'], e ->> 'day') - 1 AS d,
         e ->> 'from' AS f, e ->> 'to' AS t
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(slots) = 'array' THEN slots
                                 ELSE '[]'::jsonb END) AS e
  WHERE jsonb_typeof(e) = 'object'
), ok AS (
  SELECT d * 1440 + CASE WHEN f ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'
                         THEN substr(f, 1, 2)::int * 60 + substr(f, 4, 2)::int END AS a,
         d * 1440 + CASE WHEN t ~ '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$'
                         THEN substr(t, 1, 2)::int * 60 + substr(t, 4, 2)::int END AS b
  FROM raw WHERE d IS NOT NULL
), spans AS (
  SELECT a, CASE WHEN b > a THEN b ELSE b + 1440 END AS b
  FROM ok WHERE a IS NOT NULL AND b IS NOT NULL
), parts AS (
  SELECT int4range(a, least(b, 10080)) AS r FROM spans
  UNION ALL
  SELECT int4range(0, b - 10080) FROM spans WHERE b > 10080
)
SELECT coalesce(range_agg(r), '{}'::int4multirange) FROM parts
$$;

CREATE FUNCTION carte_capacity(attrs jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
  WHEN jsonb_typeof(attrs -> 'volunteers_needed') = 'number'
       AND (attrs ->> 'volunteers_needed') ~ '^[1-9][0-9]{0,8}$'
    THEN (attrs ->> 'volunteers_needed')::int
  WHEN jsonb_typeof(attrs -> 'capacity') = 'number'
       AND (attrs ->> 'capacity') ~ '^[1-9][0-9]{0,8}$'
    THEN (attrs ->> 'capacity')::int
END
$$;

-- Published missions as "Missions for me" reads them: weekly slots computed once when a
-- mission is written (a trigger on feature), the end after which it is over, its
-- capacity and the confirmed count (kept by signup_count) and the manual closing, so
-- one GiST KNN walk of this table, nearest first, tests each candidate with a few
-- cheap comparisons of stored values and stops at the page size.
CREATE TABLE mission_week (
  feature_id  bigint PRIMARY KEY REFERENCES feature(id) ON DELETE CASCADE,
  week        int4multirange NOT NULL,
  geog        geography(Point, 4326) NOT NULL,
  live_until  timestamptz,
  capacity    integer,
  confirmed   integer NOT NULL DEFAULT 0,
  closed      boolean NOT NULL DEFAULT false
);
CREATE INDEX mission_week_geog_gist ON mission_week USING gist (geog);
-- One row per slot range: the exact "which missions overlap" when few do (a GiST on a
-- multirange keeps only its bounding range: lossy for a week of scattered slots).
CREATE TABLE mission_slot (
  feature_id  bigint NOT NULL REFERENCES mission_week(feature_id) ON DELETE CASCADE,
  during      int4range NOT NULL,
  PRIMARY KEY (feature_id, during)
);
CREATE INDEX mission_slot_during_gist ON mission_slot USING gist (during);

CREATE FUNCTION mission_week_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'published' AND NEW.attributes ? 'availability'
     AND EXISTS (SELECT 1 FROM category c WHERE c.slug = NEW.category
                 AND c.kind = 'mission') THEN
    INSERT INTO mission_week (feature_id, week, geog, live_until, capacity, confirmed, closed)
    SELECT NEW.id, carte_week_minutes(NEW.attributes -> 'availability'), NEW.geom::geography,
           coalesce(NEW.ends_at,
                    (date_trunc('day', NEW.starts_at AT TIME ZONE 'Europe/Paris')
                     + interval '1 day') AT TIME ZONE 'Europe/Paris'),
           carte_capacity(NEW.attributes), coalesce(si.confirmed, 0),
           si.closed_at IS NOT NULL
    FROM (SELECT 1) one LEFT JOIN signup_item si ON si.feature_id = NEW.id
    ON CONFLICT (feature_id) DO UPDATE SET
      week = EXCLUDED.week, geog = EXCLUDED.geog, live_until = EXCLUDED.live_until,
      capacity = EXCLUDED.capacity, confirmed = EXCLUDED.confirmed, closed = EXCLUDED.closed;
    DELETE FROM mission_slot WHERE feature_id = NEW.id;
    INSERT INTO mission_slot (feature_id, during)
    SELECT NEW.id, r FROM unnest(carte_week_minutes(NEW.attributes -> 'availability')) AS r;
  ELSE
    DELETE FROM mission_week WHERE feature_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;
-- Only rows that have (or had) slots fire it: bulk writes of places cost nothing more.
CREATE TRIGGER mission_week_insert AFTER INSERT ON feature FOR EACH ROW
  WHEN (NEW.attributes ? 'availability') EXECUTE FUNCTION mission_week_sync();
CREATE TRIGGER mission_week_update
  AFTER UPDATE OF status, attributes, geom, category, starts_at, ends_at ON feature
  FOR EACH ROW WHEN (NEW.attributes ? 'availability' OR OLD.attributes ? 'availability')
  EXECUTE FUNCTION mission_week_sync();
INSERT INTO mission_week (feature_id, week, geog, live_until, capacity)
SELECT f.id, carte_week_minutes(f.attributes -> 'availability'), f.geom::geography,
       coalesce(f.ends_at, (date_trunc('day', f.starts_at AT TIME ZONE 'Europe/Paris')
                            + interval '1 day') AT TIME ZONE 'Europe/Paris'),
       carte_capacity(f.attributes)
FROM feature f JOIN category c ON c.slug = f.category AND c.kind = 'mission'
WHERE f.status = 'published' AND f.attributes ? 'availability';
INSERT INTO mission_slot (feature_id, during)
SELECT m.feature_id, r FROM mission_week m, unnest(m.week) AS r;

CREATE TABLE resident_profile (
  resident_id   bigint PRIMARY KEY REFERENCES resident(id) ON DELETE CASCADE,
  availability  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(availability) = 'array'),
  skills        text[] NOT NULL DEFAULT '{}' CHECK (cardinality(skills) <= 20),
  area_id       bigint REFERENCES area(id),
  geom          geometry(Point, 4326),
  radius_m      integer CHECK (radius_m BETWEEN 100 AND 50000),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (radius_m IS NULL OR geom IS NOT NULL)
);

CREATE TABLE signup_item (
  feature_id    bigint PRIMARY KEY REFERENCES feature(id) ON DELETE CASCADE,
  confirmed     integer NOT NULL DEFAULT 0 CHECK (confirmed >= 0),
  waiting       integer NOT NULL DEFAULT 0 CHECK (waiting >= 0),
  organiser_id  bigint REFERENCES resident(id),
  named_by      bigint REFERENCES app_user(id),
  named_at      timestamptz,
  closed_at     timestamptz,
  CHECK ((organiser_id IS NULL) = (named_at IS NULL))
);

CREATE TABLE signup (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  feature_id         bigint NOT NULL REFERENCES feature(id) ON DELETE CASCADE,
  resident_id        bigint NOT NULL REFERENCES resident(id),
  status             text NOT NULL CHECK (status IN ('confirmed', 'waiting', 'cancelled')),
  answers            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(answers) = 'object'),
  created_at         timestamptz NOT NULL DEFAULT now(),
  confirmed_at       timestamptz,
  cancelled_at       timestamptz,
  cancelled_by       text CHECK (cancelled_by IN ('resident', 'organiser', 'moderator')),
  cancelled_by_user  bigint REFERENCES app_user(id),
  cancel_reason      text CHECK (length(cancel_reason) <= 1000),
  reminded_at        timestamptz,
  CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
  CHECK ((status = 'cancelled') = (cancelled_by IS NOT NULL)),
  CHECK (status <> 'confirmed' OR confirmed_at IS NOT NULL),
  CHECK (cancelled_by IS DISTINCT FROM 'moderator'
         OR (cancelled_by_user IS NOT NULL AND length(btrim(cancel_reason)) > 0))
);
CREATE UNIQUE INDEX signup_active_once ON signup (feature_id, resident_id)
  WHERE status <> 'cancelled';
CREATE INDEX signup_feature_idx ON signup (feature_id, status, created_at, id);
CREATE INDEX signup_resident_idx ON signup (resident_id, created_at);
CREATE INDEX signup_to_remind_idx ON signup (feature_id)
  WHERE status = 'confirmed' AND reminded_at IS NULL;

CREATE TABLE signup_audit (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  user_id     bigint NOT NULL REFERENCES app_user(id),
  action      text NOT NULL CHECK (action IN ('cancel', 'name_organiser')),
  feature_id  bigint NOT NULL REFERENCES feature(id) ON DELETE CASCADE,
  signup_id   bigint REFERENCES signup(id) ON DELETE CASCADE,
  resident_id bigint REFERENCES resident(id),
  reason      text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 1000)
);
CREATE INDEX signup_audit_feature_idx ON signup_audit (feature_id, at);

-- The counters follow the rows; a confirmed sign-up beyond capacity is refused here.
CREATE FUNCTION signup_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  fid bigint;
  dc integer := 0;
  dw integer := 0;
  now_confirmed integer;
  cap integer;
BEGIN
  IF TG_OP = 'DELETE' THEN
    fid := OLD.feature_id;
    dc := -(OLD.status = 'confirmed')::int;
    dw := -(OLD.status = 'waiting')::int;
  ELSIF TG_OP = 'INSERT' THEN
    fid := NEW.feature_id;
    dc := (NEW.status = 'confirmed')::int;
    dw := (NEW.status = 'waiting')::int;
  ELSE
    IF NEW.feature_id <> OLD.feature_id OR NEW.resident_id <> OLD.resident_id THEN
      RAISE EXCEPTION 'a sign-up cannot move to another item or resident';
    END IF;
    fid := NEW.feature_id;
    dc := (NEW.status = 'confirmed')::int - (OLD.status = 'confirmed')::int;
    dw := (NEW.status = 'waiting')::int - (OLD.status = 'waiting')::int;
  END IF;
  IF dc = 0 AND dw = 0 THEN
    RETURN NULL;
  END IF;
  INSERT INTO signup_item (feature_id) VALUES (fid) ON CONFLICT DO NOTHING;
  UPDATE signup_item SET confirmed = confirmed + dc, waiting = waiting + dw
    WHERE feature_id = fid RETURNING confirmed INTO now_confirmed;
  IF dc <> 0 THEN
    UPDATE mission_week SET confirmed = now_confirmed WHERE feature_id = fid;
  END IF;
  IF dc > 0 THEN
    SELECT carte_capacity(attributes) INTO cap FROM feature WHERE id = fid;
    IF cap IS NOT NULL AND now_confirmed > cap THEN
      RAISE EXCEPTION 'item % is full (% places)', fid, cap
        USING ERRCODE = 'check_violation', CONSTRAINT = 'signup_within_capacity';
    END IF;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER signup_count AFTER INSERT OR UPDATE OF status OR DELETE ON signup
  FOR EACH ROW EXECUTE FUNCTION signup_count();

ALTER TABLE mail_outbox ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]'
  CHECK (jsonb_typeof(attachments) = 'array');
"""

DOWNGRADE = r"""
ALTER TABLE mail_outbox DROP COLUMN attachments;
DROP TABLE signup_audit;
DROP TABLE signup;
DROP FUNCTION signup_count();
DROP TABLE signup_item;
DROP TABLE resident_profile;
DROP TRIGGER mission_week_update ON feature;
DROP TRIGGER mission_week_insert ON feature;
DROP FUNCTION mission_week_sync();
DROP TABLE mission_slot;
DROP TABLE mission_week;
DROP FUNCTION carte_capacity(jsonb);
DROP FUNCTION carte_week_minutes(jsonb);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
