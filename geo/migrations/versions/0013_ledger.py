"""Time bank ledger and loans between residents (issue 20).

* ``timebank_account``: one per resident who took part in an exchange; ``balance`` in
  quarter-hours (``units``, 1 = 15 min). A new account starts at zero and its balance
  changes **only** through the ledger's insert trigger (a direct ``UPDATE`` or an
  ``INSERT`` with a balance is refused), so ``balance`` is always the sum of the
  account's transfers; ``carte_timebank_check()`` proves it (the tests and the bench
  call it).
* ``ledger_transfer``: the ledger. One row is one double-entry transaction: the same
  ``units`` debited from one account and credited to another. It is balanced *by
  construction* (one amount, ``CHECK (units > 0)``, ``CHECK (debit <> credit)``): an
  unbalanced transaction is not a state the table can hold. This is the design an
  auditor of a time bank trusts over ``entry(tx, account, units)`` + a deferred trigger
  checking ``sum = 0``: the invariant is declarative (CHECK, NOT NULL, foreign keys,
  none of which ``session_replication_role`` or a disabled trigger can switch off),
  each row reads as "who gave whom how much", and a confirmation writes one row (half
  the writes, no deferred check). Its double-entry postings are the view
  ``ledger_entry`` (two lines per transfer, summing to zero).

  Rows are immutable (``UPDATE``/``DELETE`` raise). A transfer of kind ``exchange``
  must match its exchange exactly (composite foreign key on exchange, giver,
  receiver, units), and there is at most one per exchange (unique): a double
  confirmation cannot book twice, even from two processes. A correction is a
  ``reversal``: a new row that must mirror the transfer it reverses (composite
  foreign key on id, accounts swapped, same units), at most one per transfer, by a
  moderator (``actor_id``) with a reason. Each row keeps both accounts' balances after
  it (``*_balance_after``, set by the trigger under the accounts' row locks): a
  statement page is one index range scan.
* ``exchange``: a time exchange between two residents: answered (``proposed``), then
  recorded by the giver (units, date, note), confirmed (booked) or disputed by the
  receiver; cancelled before booking; ``reversed`` by a moderator after.
* ``loan``: lending and barter of an object offered on the map: requested, agreed
  with dates, lent, returned (both sides confirm each step), or declined/cancelled;
  at most one loan of an item out at a time.
* ``exchange_moderation``: the audit of moderators' reversals and cancellations.

Revision ID: 0013_ledger
Revises: 0001
Depends on: 0012_residents
Create Date: 2026-12-07
"""

from alembic import op

revision = "0013_ledger"
down_revision = "0001"
branch_labels = None
depends_on = "0012_residents"

UPGRADE = r"""
CREATE TABLE timebank_account (
  resident_id  bigint PRIMARY KEY REFERENCES resident(id),
  balance      bigint NOT NULL DEFAULT 0,
  opened_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE exchange (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  feature_id      bigint REFERENCES feature(id),
  thread_id       bigint REFERENCES message_thread(id) ON DELETE SET NULL,
  giver_id        bigint NOT NULL REFERENCES resident(id),
  receiver_id     bigint NOT NULL REFERENCES resident(id),
  started_by      bigint NOT NULL REFERENCES resident(id),
  area_id         integer REFERENCES area(id),
  status          text NOT NULL DEFAULT 'proposed'
                  CHECK (status IN ('proposed', 'recorded', 'confirmed', 'disputed',
                                    'cancelled', 'reversed')),
  units           integer CHECK (units IS NULL OR units BETWEEN 1 AND 400),
  happened_on     date,
  note            text CHECK (note IS NULL OR char_length(note) <= 500),
  created_at      timestamptz NOT NULL DEFAULT now(),
  recorded_at     timestamptz,
  decided_at      timestamptz,
  dispute_reason  text CHECK (dispute_reason IS NULL OR char_length(dispute_reason) <= 500),
  cancelled_at    timestamptz,
  CHECK (giver_id <> receiver_id),
  CHECK (started_by IN (giver_id, receiver_id)),
  CHECK (status IN ('proposed', 'cancelled')
         OR (units IS NOT NULL AND happened_on IS NOT NULL AND recorded_at IS NOT NULL)),
  CHECK (status NOT IN ('confirmed', 'reversed') OR decided_at IS NOT NULL),
  UNIQUE (id, giver_id, receiver_id, units)
);
CREATE INDEX exchange_giver_idx ON exchange (giver_id, id);
CREATE INDEX exchange_receiver_idx ON exchange (receiver_id, id);
CREATE INDEX exchange_feature_idx ON exchange (feature_id) WHERE feature_id IS NOT NULL;

CREATE TABLE ledger_transfer (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  debit_account         bigint NOT NULL REFERENCES timebank_account(resident_id),
  credit_account        bigint NOT NULL REFERENCES timebank_account(resident_id),
  units                 integer NOT NULL CHECK (units > 0),
  kind                  text NOT NULL CHECK (kind IN ('exchange', 'reversal')),
  exchange_id           bigint UNIQUE,
  reverses              bigint UNIQUE,
  actor_id              integer REFERENCES app_user(id),
  reason                text CHECK (reason IS NULL OR (carte_nonblank(reason)
                                                       AND char_length(reason) <= 500)),
  booked_at             timestamptz NOT NULL DEFAULT now(),
  debit_balance_after   bigint NOT NULL,
  credit_balance_after  bigint NOT NULL,
  CHECK (debit_account <> credit_account),
  CHECK ((kind = 'exchange') = (exchange_id IS NOT NULL)),
  CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
  CHECK (kind <> 'reversal' OR (actor_id IS NOT NULL AND reason IS NOT NULL)),
  UNIQUE (id, debit_account, credit_account, units),
  -- the giver is credited, the receiver debited, exactly the exchange's units
  FOREIGN KEY (exchange_id, credit_account, debit_account, units)
    REFERENCES exchange (id, giver_id, receiver_id, units),
  -- a reversal mirrors the transfer it reverses
  FOREIGN KEY (reverses, credit_account, debit_account, units)
    REFERENCES ledger_transfer (id, debit_account, credit_account, units)
);
CREATE INDEX ledger_transfer_debit_idx ON ledger_transfer (debit_account, id);
CREATE INDEX ledger_transfer_credit_idx ON ledger_transfer (credit_account, id);

CREATE VIEW ledger_entry AS
  SELECT id AS transfer_id, debit_account AS account_id, -units AS units, booked_at
  FROM ledger_transfer
  UNION ALL
  SELECT id, credit_account, units, booked_at FROM ledger_transfer;

-- Balances move with the ledger and only with it. The accounts are updated in id order
-- (no deadlock between A->B and B->A); the caller has usually locked them already.
CREATE FUNCTION carte_ledger_book() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.units IS NULL OR NEW.units <= 0 OR NEW.debit_account = NEW.credit_account THEN
    RETURN NEW;  -- the table's constraints refuse it
  END IF;
  IF NEW.debit_account < NEW.credit_account THEN
    UPDATE timebank_account SET balance = balance - NEW.units
     WHERE resident_id = NEW.debit_account RETURNING balance INTO NEW.debit_balance_after;
    UPDATE timebank_account SET balance = balance + NEW.units
     WHERE resident_id = NEW.credit_account RETURNING balance INTO NEW.credit_balance_after;
  ELSE
    UPDATE timebank_account SET balance = balance + NEW.units
     WHERE resident_id = NEW.credit_account RETURNING balance INTO NEW.credit_balance_after;
    UPDATE timebank_account SET balance = balance - NEW.units
     WHERE resident_id = NEW.debit_account RETURNING balance INTO NEW.debit_balance_after;
  END IF;
  IF NEW.debit_balance_after IS NULL OR NEW.credit_balance_after IS NULL THEN
    RAISE EXCEPTION 'ledger transfer between accounts that do not exist (% -> %)',
      NEW.debit_account, NEW.credit_account USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ledger_transfer_book BEFORE INSERT ON ledger_transfer
  FOR EACH ROW EXECUTE FUNCTION carte_ledger_book();

CREATE FUNCTION carte_ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the ledger is append-only: a transfer cannot be changed nor deleted '
                  '(a correction is a reversing transfer)' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_transfer_immutable BEFORE UPDATE OR DELETE ON ledger_transfer
  FOR EACH ROW EXECUTE FUNCTION carte_ledger_immutable();

CREATE FUNCTION carte_timebank_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'a time bank account cannot be deleted' USING ERRCODE = 'restrict_violation';
  END IF;
  IF pg_trigger_depth() < 2 AND NEW.balance IS DISTINCT FROM
     (CASE WHEN TG_OP = 'INSERT' THEN 0 ELSE OLD.balance END) THEN
    RAISE EXCEPTION 'a balance changes only by a ledger transfer'
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER timebank_account_guard BEFORE INSERT OR UPDATE OR DELETE ON timebank_account
  FOR EACH ROW EXECUTE FUNCTION carte_timebank_account_guard();

-- Every balance equals the sum of its account's postings, and they all sum to zero.
CREATE FUNCTION carte_timebank_check(OUT accounts bigint, OUT total bigint,
                                     OUT mismatched bigint) LANGUAGE sql STABLE AS $$
  WITH sums AS (
    SELECT account_id, sum(units) AS units FROM (
      SELECT debit_account AS account_id, -sum(units::bigint) AS units
      FROM ledger_transfer GROUP BY debit_account
      UNION ALL
      SELECT credit_account, sum(units::bigint) FROM ledger_transfer GROUP BY credit_account
    ) p GROUP BY account_id)
  SELECT count(*), coalesce(sum(a.balance), 0)::bigint,
         count(*) FILTER (WHERE a.balance <> coalesce(s.units, 0))
  FROM timebank_account a LEFT JOIN sums s ON s.account_id = a.resident_id
$$;

-- Confirming an exchange in one round trip (community.ledger.confirm_exchange calls it):
-- the exchange locked first (a second confirmation waits, then sees it booked), both
-- accounts opened if new and locked in id order, the receiver's floor checked under the
-- lock, the transfer booked and the exchange marked, all in the caller's transaction.
-- Outcomes: booked, already (the same transfer id), not_found, not_receiver, gone (an
-- account was deleted), limit, state:<status>.
CREATE FUNCTION carte_ledger_confirm(p_exchange bigint, p_resident bigint, p_floor bigint,
                                     OUT outcome text, OUT transfer_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
  x record;
  bal bigint;
BEGIN
  -- A confirmation already booked is answered without a lock: a read-only transaction
  -- needs no WAL flush at commit, so double clicks cost next to nothing.
  SELECT e.status, e.receiver_id INTO x FROM exchange e WHERE e.id = p_exchange;
  IF FOUND AND x.status = 'confirmed' AND p_resident = x.receiver_id THEN
    SELECT t.id INTO transfer_id FROM ledger_transfer t WHERE t.exchange_id = p_exchange;
    outcome := 'already'; RETURN;
  END IF;
  SELECT e.status, e.giver_id, e.receiver_id, e.units INTO x
    FROM exchange e WHERE e.id = p_exchange FOR UPDATE;
  IF NOT FOUND THEN
    outcome := 'not_found'; RETURN;
  END IF;
  IF p_resident IS DISTINCT FROM x.receiver_id THEN
    outcome := CASE WHEN p_resident = x.giver_id THEN 'not_receiver' ELSE 'not_found' END;
    RETURN;
  END IF;
  IF x.status = 'confirmed' THEN
    SELECT t.id INTO transfer_id FROM ledger_transfer t WHERE t.exchange_id = p_exchange;
    outcome := 'already'; RETURN;
  END IF;
  IF x.status <> 'recorded' THEN
    outcome := 'state:' || x.status; RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM resident r WHERE r.id IN (x.giver_id, x.receiver_id)
             AND r.deleted_at IS NOT NULL) THEN
    outcome := 'gone'; RETURN;
  END IF;
  INSERT INTO timebank_account (resident_id)
    VALUES (least(x.giver_id, x.receiver_id)), (greatest(x.giver_id, x.receiver_id))
    ON CONFLICT (resident_id) DO NOTHING;
  PERFORM 1 FROM timebank_account a WHERE a.resident_id IN (x.giver_id, x.receiver_id)
    ORDER BY a.resident_id FOR UPDATE;
  SELECT a.balance INTO bal FROM timebank_account a WHERE a.resident_id = x.receiver_id;
  IF bal - x.units < p_floor THEN
    outcome := 'limit'; RETURN;
  END IF;
  INSERT INTO ledger_transfer (debit_account, credit_account, units, kind, exchange_id)
    VALUES (x.receiver_id, x.giver_id, x.units, 'exchange', p_exchange)
    RETURNING id INTO transfer_id;
  UPDATE exchange SET status = 'confirmed', decided_at = now() WHERE id = p_exchange;
  outcome := 'booked';
END $$;

CREATE TABLE loan (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  feature_id          bigint NOT NULL REFERENCES feature(id),
  thread_id           bigint REFERENCES message_thread(id) ON DELETE SET NULL,
  lender_id           bigint NOT NULL REFERENCES resident(id),
  borrower_id         bigint NOT NULL REFERENCES resident(id),
  area_id             integer REFERENCES area(id),
  kind                text NOT NULL DEFAULT 'loan' CHECK (kind IN ('loan', 'barter', 'gift')),
  status              text NOT NULL DEFAULT 'requested'
                      CHECK (status IN ('requested', 'agreed', 'lent', 'returned',
                                        'completed', 'declined', 'cancelled')),
  starts_on           date,
  due_on              date,
  note                text CHECK (note IS NULL OR char_length(note) <= 500),
  created_at          timestamptz NOT NULL DEFAULT now(),
  agreed_at           timestamptz,
  lent_at             timestamptz,
  lent_confirmed_at   timestamptz,
  return_declared_at  timestamptz,
  returned_at         timestamptz,
  closed_at           timestamptz,
  reminded_at         timestamptz,
  reminders           integer NOT NULL DEFAULT 0,
  CHECK (lender_id <> borrower_id),
  CHECK (due_on IS NULL OR starts_on IS NULL OR due_on >= starts_on),
  CHECK (kind <> 'loan' OR status IN ('requested', 'declined', 'cancelled')
         OR (starts_on IS NOT NULL AND due_on IS NOT NULL)),
  CHECK (status <> 'lent' OR lent_at IS NOT NULL),
  CHECK (status <> 'returned' OR (kind = 'loan' AND returned_at IS NOT NULL))
);
CREATE UNIQUE INDEX loan_one_out_per_item ON loan (feature_id) WHERE status = 'lent';
CREATE INDEX loan_due_idx ON loan (due_on) WHERE status = 'lent';
CREATE INDEX loan_lender_idx ON loan (lender_id, id);
CREATE INDEX loan_borrower_idx ON loan (borrower_id, id);

CREATE TABLE exchange_moderation (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor_id     integer NOT NULL REFERENCES app_user(id),
  action       text NOT NULL CHECK (action IN ('reverse_exchange', 'cancel_exchange',
                                               'cancel_loan')),
  exchange_id  bigint REFERENCES exchange(id),
  loan_id      bigint REFERENCES loan(id),
  transfer_id  bigint REFERENCES ledger_transfer(id),
  reason       text NOT NULL CHECK (carte_nonblank(reason) AND char_length(reason) <= 500),
  CHECK ((exchange_id IS NULL) <> (loan_id IS NULL))
);
CREATE FUNCTION carte_exchange_moderation_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only' USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER exchange_moderation_append_only BEFORE UPDATE OR DELETE ON exchange_moderation
  FOR EACH ROW EXECUTE FUNCTION carte_exchange_moderation_append_only();
"""

DOWNGRADE = r"""
DROP TABLE exchange_moderation;
DROP FUNCTION carte_exchange_moderation_append_only();
DROP TABLE loan;
DROP FUNCTION carte_ledger_confirm(bigint, bigint, bigint);
DROP FUNCTION carte_timebank_check();
DROP VIEW ledger_entry;
DROP TABLE ledger_transfer;
DROP FUNCTION carte_ledger_immutable();
DROP FUNCTION carte_ledger_book();
DROP TABLE exchange;
DROP TABLE timebank_account;
DROP FUNCTION carte_timebank_account_guard();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
