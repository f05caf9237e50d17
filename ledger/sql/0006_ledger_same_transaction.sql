-- Entries join their journal transaction only in the database transaction that inserted it,
-- and pending entries their reservation: nothing is added to what is already committed.
--
-- A BEFORE INSERT trigger stamps each journal transaction (and each reservation) with the
-- inserting top-level transaction's id, pg_current_xact_id() (xid8: 64 bits, no wraparound).
-- xmin would not do: Django's savepoints give rows a subtransaction's xid. The stamp is not
-- in the Django model (nothing in Python reads or writes it); the trigger overwrites
-- whatever an INSERT supplies, journal rows cannot be updated, and the reservation guard
-- below refuses a change of the stamp. The entry triggers then compare the stamp with the
-- current transaction's id. The batch import and the set-based bench insert transactions
-- and their entries in one database transaction, so they pass.
-- SQLSTATE 23L05: entry outside its transaction's database transaction.

ALTER TABLE ledger_journaltransaction ADD COLUMN inserted_xact xid8;
ALTER TABLE ledger_pendingtransaction ADD COLUMN inserted_xact xid8;

CREATE OR REPLACE FUNCTION ledger_stamp_inserted_xact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.inserted_xact := pg_current_xact_id();
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_journaltransaction_stamp_xact BEFORE INSERT ON ledger_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_stamp_inserted_xact();

CREATE TRIGGER ledger_pendingtransaction_stamp_xact BEFORE INSERT ON ledger_pendingtransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_stamp_inserted_xact();

CREATE OR REPLACE FUNCTION ledger_pending_keep_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.inserted_xact IS DISTINCT FROM OLD.inserted_xact OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'ledger reservation %: its id and inserting transaction cannot change', OLD.id
            USING ERRCODE = '23L01';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_pendingtransaction_keep_stamp BEFORE UPDATE ON ledger_pendingtransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_pending_keep_stamp();

CREATE OR REPLACE FUNCTION ledger_entry_check_same_xact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_journaltransaction
                    WHERE id = NEW.transaction_id AND inserted_xact = pg_current_xact_id()) THEN
        RAISE EXCEPTION 'ledger entry for transaction %: entries are inserted only with their transaction',
            NEW.transaction_id USING ERRCODE = '23L05';
    END IF;
    RETURN NEW;
END $$;

-- Named to fire before ledger_entry_apply (same-timing triggers fire in name order).
CREATE TRIGGER ledger_entry_a_same_xact BEFORE INSERT ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_same_xact();

CREATE OR REPLACE FUNCTION ledger_pending_entry_check_same_xact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_pendingtransaction
                    WHERE id = NEW.pending_id AND inserted_xact = pg_current_xact_id()) THEN
        RAISE EXCEPTION 'ledger pending entry for reservation %: legs are inserted only with their reservation',
            NEW.pending_id USING ERRCODE = '23L05';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_pendingentry_same_xact BEFORE INSERT ON ledger_pendingentry
    FOR EACH ROW EXECUTE FUNCTION ledger_pending_entry_check_same_xact();

-- A reservation's legs are what it reserved (pending_sats and the posting follow them).
CREATE TRIGGER ledger_pendingentry_immutable BEFORE UPDATE OR DELETE ON ledger_pendingentry
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
