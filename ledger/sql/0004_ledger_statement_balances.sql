-- Balances moved once per statement instead of once per entry.
--
-- PostgreSQL finds the current version of a row by walking every version the same open
-- transaction made of it, so updating one balance row per entry made a bulk insert (the
-- historical import) quadratic in the entries per account. Now:
--   * the BEFORE ROW trigger locks the balance row (FOR UPDATE, which creates no new
--     version), computes the running balance from the stored balance plus what earlier
--     rows of the same statement added (kept in a transaction-local setting), and refuses
--     an overdraft of a non-negative account row by row;
--   * an AFTER STATEMENT trigger adds each account's total to its balance row in one
--     UPDATE (whose CHECK still guards the end state) and clears the running totals.
-- Raw SQL inserts go through the same triggers, so the guarantees are unchanged.

CREATE OR REPLACE FUNCTION ledger_entry_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tx RECORD;
    bal RECORD;
    carried bigint;
BEGIN
    SELECT sequence, occurred_at, block_height INTO tx
      FROM ledger_journaltransaction WHERE id = NEW.transaction_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger entry refers to missing transaction %', NEW.transaction_id USING ERRCODE = '23503';
    END IF;
    NEW.sequence := tx.sequence;
    NEW.occurred_at := tx.occurred_at;
    NEW.block_height := tx.block_height;

    SELECT balance_sats, pending_sats, non_negative, currency, last_sequence INTO bal
      FROM ledger_accountbalance WHERE account_id = NEW.account_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger entry refers to missing account %', NEW.account_id USING ERRCODE = '23503';
    END IF;
    IF NEW.currency IS DISTINCT FROM bal.currency THEN
        RAISE EXCEPTION 'ledger entry currency % differs from account % currency %',
            NEW.currency, NEW.account_id, bal.currency USING ERRCODE = '23L03';
    END IF;
    IF tx.sequence < bal.last_sequence THEN
        -- Running balances follow sequence order per account; the service guarantees it
        -- by locking the account before the chain assigns the sequence.
        RAISE EXCEPTION 'ledger entry for account % at sequence % arrives after sequence %',
            NEW.account_id, tx.sequence, bal.last_sequence USING ERRCODE = '23L03';
    END IF;
    carried := coalesce(nullif(current_setting('ledger.carry_' || NEW.account_id, true), ''), '0')::bigint
               + NEW.amount_sats;
    NEW.balance_after_sats := bal.balance_sats + carried;
    IF bal.non_negative AND NEW.balance_after_sats - bal.pending_sats < 0 THEN
        RAISE EXCEPTION 'ledger_balance_non_negative: account % would go below zero (% sats, % reserved)',
            NEW.account_id, NEW.balance_after_sats, bal.pending_sats
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_balance_non_negative',
                  TABLE = 'ledger_accountbalance';
    END IF;
    PERFORM set_config('ledger.carry_' || NEW.account_id, carried::text, true);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ledger_entry_after_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved RECORD;
BEGIN
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

CREATE TRIGGER ledger_entry_apply_statement AFTER INSERT ON ledger_entry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_after_statement();
