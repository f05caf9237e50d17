-- Derived values change only through the functions that own them (issue 11, way 6).
--
-- The service connects as a role that holds SELECT on ledger_accountbalance, the checkpoints
-- and their cursors, plus UPDATE on accountbalance.updated_at alone (the row lock of a posting
-- needs UPDATE on some column); config/database_privileges.py is the list. So balances,
-- pending_sats, the non_negative flag and checkpoints are written only here, by functions
-- owned by the owner and run with its rights (SECURITY DEFINER, with a fixed search_path):
--   * the account triggers that create the balance row and copy the account's flag to it;
--   * the entry statement trigger that adds a statement's entries to the balances;
--   * ledger_pending_refresh: pending_sats recomputed from the open reservations;
--   * ledger_checkpoint_refresh: the as-of checkpoints (ledger/services/checkpoints.py calls it).
-- The running-balance carry stays a transaction-local setting (fast: no row version per entry),
-- but a setting is writable by any statement, even between the rows of one INSERT ... SELECT.
-- So it is no longer trusted: the statement trigger recomputes every running balance of the
-- statement from its own entries (a window over the transition table) and refuses the whole
-- statement if one differs from what the row trigger stored.

ALTER FUNCTION ledger_account_after_insert() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION ledger_account_before_update() SECURITY DEFINER SET search_path = public, pg_temp;

CREATE OR REPLACE FUNCTION ledger_entry_after_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    moved RECORD;
    forged RECORD;
BEGIN
    SELECT walk.id, walk.account_id, walk.balance_after_sats, b.balance_sats + walk.running AS expected
      INTO forged
      FROM (SELECT e.id, e.account_id, e.balance_after_sats,
                   sum(e.amount_sats) OVER (PARTITION BY e.account_id ORDER BY e.id) AS running
              FROM new_entries e) walk
      JOIN ledger_accountbalance b ON b.account_id = walk.account_id
     WHERE walk.balance_after_sats IS DISTINCT FROM b.balance_sats + walk.running
     ORDER BY walk.id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % of account %: running balance % does not follow from the entries (%)',
            forged.id, forged.account_id, forged.balance_after_sats, forged.expected USING ERRCODE = '23L03';
    END IF;
    FOR moved IN
        SELECT account_id, sum(amount_sats) AS total, count(*) AS entries, max(sequence) AS last_sequence
          FROM new_entries GROUP BY account_id ORDER BY account_id
    LOOP
        UPDATE ledger_accountbalance
           SET balance_sats = balance_sats + moved.total,
               entry_count = entry_count + moved.entries,
               last_sequence = greatest(last_sequence, moved.last_sequence),
               updated_at = now()
         WHERE account_id = moved.account_id;
        PERFORM set_config('ledger.carry_' || moved.account_id, '', true);
    END LOOP;
    RETURN NULL;
END $$;

-- pending_sats of each account = what its open reservations take out of it, net per reservation.
CREATE OR REPLACE FUNCTION ledger_pending_refresh(p_accounts bigint[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE ledger_accountbalance b
       SET pending_sats = owed.sats, updated_at = now()
      FROM (SELECT a.account_id,
                   coalesce((SELECT sum(-net.total)
                               FROM (SELECT sum(e.amount_sats) AS total
                                       FROM ledger_pendingentry e
                                       JOIN ledger_pendingtransaction p ON p.id = e.pending_id
                                      WHERE e.account_id = a.account_id AND p.status = 'open'
                                      GROUP BY e.pending_id) net
                              WHERE net.total < 0), 0)::bigint AS sats
              FROM unnest(p_accounts) AS a(account_id)) owed
     WHERE b.account_id = owed.account_id AND b.pending_sats IS DISTINCT FROM owed.sats;
END $$;

-- The as-of checkpoints (ledger/services/checkpoints.py says what they are).
CREATE OR REPLACE FUNCTION ledger_checkpoint_refresh(p_every integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    pos RECORD;
    dim text;
    col text;
    boundary text;
    lowest_floor text;
    since bigint;
    written bigint := 0;
    inserted bigint;
BEGIN
    IF p_every IS NULL OR p_every < 1 THEN
        RAISE EXCEPTION 'checkpoints every % entries: must be at least 1', p_every USING ERRCODE = '22023';
    END IF;
    -- ('LEDG', 2): must match ledger.chain.CHAIN_LOCK_CLASS / checkpoints.REFRESH_LOCK_ID.
    IF NOT pg_try_advisory_xact_lock(1279607879, 2) THEN
        RETURN 0;
    END IF;
    FOR pos IN SELECT account_id, last_sequence FROM ledger_accountbalance WHERE last_sequence > 0 ORDER BY account_id
    LOOP
        FOREACH dim IN ARRAY ARRAY['occurred_at', 'block_height'] LOOP
            IF dim = 'occurred_at' THEN
                col := 'occurred_at'; boundary := 'boundary_at'; lowest_floor := '''-infinity''::timestamptz';
            ELSE
                col := 'block_height'; boundary := 'boundary_height'; lowest_floor := '-1::bigint';
            END IF;
            SELECT k.valid_through_sequence INTO since
              FROM ledger_checkpointcursor k WHERE k.account_id = pos.account_id AND k.dimension = dim;
            since := coalesce(since, 0);
            CONTINUE WHEN since >= pos.last_sequence;
            -- Checkpoints at or above a new entry's position no longer hold its amount.
            EXECUTE format(
                'DELETE FROM ledger_balancecheckpoint WHERE account_id = $1 AND dimension = $2 AND %I >= '
                '(SELECT min(e.%I) FROM ledger_entry e WHERE e.account_id = $1 AND e.sequence > $3 AND e.sequence <= $4)',
                boundary, col)
              USING pos.account_id, dim, since, pos.last_sequence;
            EXECUTE format($sql$
                WITH base AS (
                    SELECT c.%1$I AS after, c.balance_sats FROM ledger_balancecheckpoint c
                     WHERE c.account_id = $1 AND c.dimension = $2 ORDER BY c.%1$I DESC NULLS LAST LIMIT 1
                ), grouped AS (
                    SELECT e.%2$I AS position, sum(e.amount_sats) AS total, count(*) AS count
                      FROM ledger_entry e
                     WHERE e.account_id = $1 AND e.sequence <= $3
                       AND e.%2$I > coalesce((SELECT after FROM base), %3$s)
                     GROUP BY e.%2$I
                ), walk AS (
                    SELECT position, count, (sum(total) OVER w)::bigint AS running, (sum(count) OVER w)::bigint AS seen
                      FROM grouped WINDOW w AS (ORDER BY position ROWS UNBOUNDED PRECEDING)
                )
                INSERT INTO ledger_balancecheckpoint (account_id, dimension, %1$I, balance_sats)
                SELECT $1, $2, position, coalesce((SELECT balance_sats FROM base), 0) + running
                  FROM walk WHERE seen / $4 > (seen - count) / $4
                $sql$, boundary, col, lowest_floor)
              USING pos.account_id, dim, pos.last_sequence, p_every::bigint;
            GET DIAGNOSTICS inserted = ROW_COUNT;
            written := written + inserted;
            INSERT INTO ledger_checkpointcursor (account_id, dimension, valid_through_sequence)
            VALUES (pos.account_id, dim, pos.last_sequence)
            ON CONFLICT (account_id, dimension) DO UPDATE SET valid_through_sequence = EXCLUDED.valid_through_sequence;
        END LOOP;
    END LOOP;
    RETURN written;
END $$;
