-- The database enforces the chain's linkage: every journal transaction takes the next
-- sequence (gapless, strictly increasing) and names the current head's hash as prev_hash.
--
-- The trigger takes the chain lock itself (re-entrant for ledger_append, which already
-- holds it), so even raw SQL inserts are serialized and checked against a head read after
-- the lock is granted. Rows inserted earlier by the same statement (the batch import) are
-- visible to the head read of later ones. The hash itself cannot be recomputed here (its
-- content digest is canonical JSON made by the application); verify_chain() checks it.

CREATE OR REPLACE FUNCTION ledger_transaction_check_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head RECORD;
BEGIN
    -- ('LEDG', 1): must match ledger.chain.CHAIN_LOCK_CLASS / CHAIN_LOCK_ID.
    PERFORM pg_advisory_xact_lock(1279607879, 1);
    SELECT t.sequence, t.hash INTO head FROM ledger_journaltransaction t ORDER BY t.sequence DESC LIMIT 1;
    IF NEW.sequence IS DISTINCT FROM coalesce(head.sequence, 0) + 1 THEN
        RAISE EXCEPTION 'ledger chain: transaction has sequence %, the next one is %',
            NEW.sequence, coalesce(head.sequence, 0) + 1 USING ERRCODE = '23L04';
    END IF;
    IF NEW.prev_hash IS DISTINCT FROM coalesce(head.hash, repeat('0', 64)) THEN
        RAISE EXCEPTION 'ledger chain: prev_hash of sequence % does not name the head''s hash', NEW.sequence
            USING ERRCODE = '23L04';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_journaltransaction_link BEFORE INSERT ON ledger_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_check_link();
