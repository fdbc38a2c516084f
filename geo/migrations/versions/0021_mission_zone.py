"""Missions: a start-only mission ends with its day in the city's time zone, not Paris's.

``0014_signups``'s trigger ``mission_week_sync`` (and its backfill) computed
``mission_week.live_until`` of a mission with ``starts_at`` and no ``ends_at`` as the
next midnight in ``'Europe/Paris'``: in a city of another zone (Montréal, Nouméa) a
mission announced for a day left "Missions pour moi" hours early or late.

* ``carte_city_zone()``: the city's IANA zone (``time_zone`` of its ``city.json``),
  the one place SQL reads it. A function whose body is the zone, so a trigger pays a
  call, not a table read, and nothing else in the schema changes.
* ``carte_set_city_zone(zone)``: checks the name (PostgreSQL refuses an unknown zone),
  rewrites ``carte_city_zone()`` when it differs and recomputes ``live_until`` of the
  start-only missions; returns whether anything changed. Called below with the city's
  zone (``geo.events.city_zone``: ``CARTE_CITY`` at migrate time) and again by
  ``geo.migrate.upgrade`` after every upgrade, so ``carte db migrate`` and ``carte demo``
  follow a city whose zone changed.
* ``mission_week_sync()`` reads ``carte_city_zone()`` instead of ``'Europe/Paris'``.

Revision ID: 0021_mission_zone
Revises: 0014_signups
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_mission_zone"
down_revision = "0014_signups"
branch_labels = None
depends_on = None

_SYNC = r"""
CREATE OR REPLACE FUNCTION mission_week_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  zone text := {zone};
BEGIN
  IF NEW.status = 'published' AND NEW.attributes ? 'availability'
     AND EXISTS (SELECT 1 FROM category c WHERE c.slug = NEW.category
                 AND c.kind = 'mission') THEN
    INSERT INTO mission_week (feature_id, week, geog, live_until, capacity, confirmed, closed)
    SELECT NEW.id, carte_week_minutes(NEW.attributes -> 'availability'), NEW.geom::geography,
           coalesce(NEW.ends_at,
                    (date_trunc('day', NEW.starts_at AT TIME ZONE zone)
                     + interval '1 day') AT TIME ZONE zone),
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
"""

UPGRADE = r"""
-- The zone 0014 assumed, until carte_set_city_zone below sets the city's.
CREATE FUNCTION carte_city_zone() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT 'Europe/Paris'::text $$;

CREATE FUNCTION carte_set_city_zone(zone text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM now() AT TIME ZONE zone;  -- an unknown zone raises here, nothing changed
  IF zone = carte_city_zone() THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE OR REPLACE FUNCTION carte_city_zone() RETURNS text '
                 'LANGUAGE sql STABLE PARALLEL SAFE AS %L',
                 format('SELECT %L::text', zone));
  UPDATE mission_week m
     SET live_until = (date_trunc('day', f.starts_at AT TIME ZONE zone)
                       + interval '1 day') AT TIME ZONE zone
    FROM feature f
   WHERE f.id = m.feature_id AND f.ends_at IS NULL AND f.starts_at IS NOT NULL;
  RETURN true;
END $$;
""" + _SYNC.format(zone="carte_city_zone()")  # noqa: S608 - constants, no input

_UNDO = r"""
UPDATE mission_week m
   SET live_until = (date_trunc('day', f.starts_at AT TIME ZONE 'Europe/Paris')
                     + interval '1 day') AT TIME ZONE 'Europe/Paris'
  FROM feature f
 WHERE f.id = m.feature_id AND f.ends_at IS NULL AND f.starts_at IS NOT NULL;
DROP FUNCTION carte_set_city_zone(text);
DROP FUNCTION carte_city_zone();
"""
DOWNGRADE = _SYNC.format(zone="'Europe/Paris'") + _UNDO


def upgrade() -> None:
    from geo.events import city_zone

    op.execute(UPGRADE)
    op.get_bind().execute(sa.text("SELECT carte_set_city_zone(:z)"),
                          {"z": city_zone().key})


def downgrade() -> None:
    op.execute(DOWNGRADE)
