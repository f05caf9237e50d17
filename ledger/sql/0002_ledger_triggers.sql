-- Ledger invariants enforced by PostgreSQL, so that raw SQL cannot break them.
-- SQLSTATEs of our own (class 23, so drivers raise an integrity error):
--   23L01 immutable record, 23L02 unbalanced transaction, 23L03 entry/account mismatch.

-- Accounts: every account gets its balance row; code, currency and type are permanent.
CREATE OR REPLACE FUNCTION ledger_account_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_accountbalance (account_id, currency, non_negative, balance_sats, pending_sats,
                                       entry_count, last_sequence, updated_at)
    VALUES (NEW.id, NEW.currency, NEW.non_negative, 0, 0, 0, 0, now());
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_account_balance_row AFTER INSERT ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_after_insert();

CREATE OR REPLACE FUNCTION ledger_account_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.code IS DISTINCT FROM OLD.code OR NEW.currency IS DISTINCT FROM OLD.currency
       OR NEW.account_type IS DISTINCT FROM OLD.account_type OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'ledger account %: code, currency and account_type cannot change', OLD.code
            USING ERRCODE = '23L01';
    END IF;
    IF NEW.non_negative IS DISTINCT FROM OLD.non_negative THEN
        -- The balance CHECK refuses the flag on an account that is already below zero.
        UPDATE ledger_accountbalance SET non_negative = NEW.non_negative WHERE account_id = NEW.id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_account_guard BEFORE UPDATE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_before_update();

CREATE OR REPLACE FUNCTION ledger_account_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger account % cannot be deleted', OLD.code USING ERRCODE = '23L01';
END $$;

CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_no_delete();

-- Journal transactions and entries are append-only.
CREATE OR REPLACE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable (% refused); correct with a reversal', TG_TABLE_NAME, TG_OP
        USING ERRCODE = '23L01';
END $$;

CREATE TRIGGER ledger_journaltransaction_immutable BEFORE UPDATE OR DELETE ON ledger_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

CREATE TRIGGER ledger_entry_immutable BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- Balances move only through entries (and reservations through pending_sats).
CREATE OR REPLACE FUNCTION ledger_balance_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() = 1 AND (NEW.balance_sats IS DISTINCT FROM OLD.balance_sats
            OR NEW.entry_count IS DISTINCT FROM OLD.entry_count
            OR NEW.last_sequence IS DISTINCT FROM OLD.last_sequence
            OR NEW.currency IS DISTINCT FROM OLD.currency
            OR NEW.account_id IS DISTINCT FROM OLD.account_id) THEN
        RAISE EXCEPTION 'ledger balances change only by inserting entries' USING ERRCODE = '23L01';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_accountbalance_guard BEFORE UPDATE ON ledger_accountbalance
    FOR EACH ROW EXECUTE FUNCTION ledger_balance_before_update();

CREATE TRIGGER ledger_accountbalance_no_delete BEFORE DELETE ON ledger_accountbalance
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- Entry insert: copy the transaction's position, check the currency, move the balance.
-- The UPDATE of ledger_accountbalance runs its CHECKs (non-negative) on every leg, and
-- takes the account's row lock if the caller did not already hold it.
CREATE OR REPLACE FUNCTION ledger_entry_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tx RECORD;
    bal RECORD;
BEGIN
    SELECT sequence, occurred_at, block_height INTO tx
      FROM ledger_journaltransaction WHERE id = NEW.transaction_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger entry refers to missing transaction %', NEW.transaction_id USING ERRCODE = '23503';
    END IF;
    NEW.sequence := tx.sequence;
    NEW.occurred_at := tx.occurred_at;
    NEW.block_height := tx.block_height;

    UPDATE ledger_accountbalance
       SET balance_sats = balance_sats + NEW.amount_sats,
           entry_count = entry_count + 1,
           last_sequence = tx.sequence,
           updated_at = now()
     WHERE account_id = NEW.account_id AND last_sequence <= tx.sequence
    RETURNING balance_sats, currency INTO bal;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM ledger_accountbalance WHERE account_id = NEW.account_id) THEN
            -- Running balances follow sequence order per account; the service guarantees it
            -- by locking the account before the chain assigns the sequence.
            RAISE EXCEPTION 'ledger entry for account % at sequence % arrives after a later sequence',
                NEW.account_id, tx.sequence USING ERRCODE = '23L03';
        END IF;
        RAISE EXCEPTION 'ledger entry refers to missing account %', NEW.account_id USING ERRCODE = '23503';
    END IF;
    IF NEW.currency IS DISTINCT FROM bal.currency THEN
        RAISE EXCEPTION 'ledger entry currency % differs from account % currency %',
            NEW.currency, NEW.account_id, bal.currency USING ERRCODE = '23L03';
    END IF;
    NEW.balance_after_sats := bal.balance_sats;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_entry_apply BEFORE INSERT ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_before_insert();

-- At commit: every transaction has entries, and they sum to zero per currency.
CREATE OR REPLACE FUNCTION ledger_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad RECORD;
BEGIN
    SELECT currency, sum(amount_sats) AS total INTO bad
      FROM ledger_entry WHERE transaction_id = NEW.transaction_id
     GROUP BY currency HAVING sum(amount_sats) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: % entries sum to %',
            NEW.transaction_id, bad.currency, bad.total USING ERRCODE = '23L02';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_balanced();

CREATE OR REPLACE FUNCTION ledger_transaction_check_has_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_entry WHERE transaction_id = NEW.id) THEN
        RAISE EXCEPTION 'ledger transaction % has no entries', NEW.id USING ERRCODE = '23L02';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_transaction_has_entries AFTER INSERT ON ledger_journaltransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_check_has_entries();
