"""Jobs: long work (publishing a large import, bulk decisions, exports) run by the worker.

* ``job``: what to do (``kind`` and a JSON ``payload``), who asked, its state and
  result. ``carte worker`` claims a queued job with ``FOR UPDATE SKIP LOCKED`` and runs
  it **in that same transaction**: the job's effects and its ``done`` commit together,
  so a worker killed mid-job leaves nothing half-applied and the job is queued again.
* ``job_run``: progress and start count, written on a connection of its own while the
  job's transaction is open (the ``job`` row is locked by it); a start count above
  ``max_attempts`` fails the job instead of looping on a job that kills its worker.

A branch of its own on ``0001``.

Revision ID: 0009_jobs
Revises: 0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "0009_jobs"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE job (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind          text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]*$'),
  payload       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'done', 'failed')),
  created_by    integer REFERENCES app_user(id),
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  result        jsonb,
  error         text,
  CHECK ((status = 'queued') = (finished_at IS NULL))
);
CREATE INDEX job_queued_idx ON job (id) WHERE status = 'queued';

CREATE TABLE job_run (
  job_id      bigint PRIMARY KEY REFERENCES job(id) ON DELETE CASCADE,
  starts      integer NOT NULL DEFAULT 0,
  done        bigint NOT NULL DEFAULT 0,
  total       bigint,
  message     text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
"""

DOWNGRADE = r"""
DROP TABLE job_run;
DROP TABLE job;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
