-- Lots are bound to the ledger postings that made and took them (issue 15, limits by provenance):
-- what a journal transaction makes as lots in a wallet never exceeds what it brought to that
-- wallet's account, and what it takes from a wallet's lots never exceeds what it took from the
-- account. A lot moved from another of our wallets keeps its origin's acquisition time, category
-- and reference and comes from a consumption of that origin by the same posting; any other lot
-- has its transfer's category and reference and the posting's time. So the service role cannot
-- invent a forfeiture lot to hide bought coins from a purchase allowance, nor backdate a lot.
-- SECURITY DEFINER: the checks read the ledger, which the service role may not lock.

CREATE OR REPLACE FUNCTION reserve_lot_posting_sats(journal uuid, wallet bigint) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT coalesce(sum(e.amount_sats), 0)::bigint
      FROM ledger_entry e JOIN reserve_wallet w ON w.ledger_account_id = e.account_id
     WHERE e.transaction_id = journal AND w.id = wallet
$$;

CREATE OR REPLACE FUNCTION reserve_lot_made_check() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    made bigint;
    origin record;
    moved record;
    posting record;
BEGIN
    SELECT coalesce(sum(amount_sats), 0) INTO made FROM reserve_lot
     WHERE journal_transaction_id = NEW.journal_transaction_id AND wallet_id = NEW.wallet_id;
    IF made + NEW.amount_sats > reserve_lot_posting_sats(NEW.journal_transaction_id, NEW.wallet_id) THEN
        RAISE EXCEPTION 'reserve_lot: posting % brought less than % sats to wallet %',
            NEW.journal_transaction_id, made + NEW.amount_sats, NEW.wallet_id USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.origin_id IS NOT NULL THEN
        SELECT acquired_at, category, provenance_reference INTO origin FROM reserve_lot WHERE id = NEW.origin_id;
        SELECT coalesce(sum(amount_sats), 0) AS sats INTO moved FROM reserve_lotconsumption
         WHERE lot_id = NEW.origin_id AND journal_transaction_id = NEW.journal_transaction_id AND restores_id IS NULL;
        IF (NEW.acquired_at, NEW.category, NEW.provenance_reference)
               IS DISTINCT FROM (origin.acquired_at, origin.category, origin.provenance_reference)
           OR moved.sats < NEW.amount_sats THEN
            RAISE EXCEPTION 'reserve_lot: a moved lot keeps its origin''s acquisition and comes from what the posting took of it'
                USING ERRCODE = 'check_violation';
        END IF;
    ELSE
        SELECT t.category, t.provenance_reference, j.occurred_at INTO posting
          FROM reserve_transfer t, ledger_journaltransaction j
         WHERE t.id = NEW.transfer_id AND j.id = NEW.journal_transaction_id;
        IF (NEW.category, NEW.provenance_reference, NEW.acquired_at)
               IS DISTINCT FROM (posting.category, posting.provenance_reference, posting.occurred_at) THEN
            RAISE EXCEPTION 'reserve_lot: a new lot has its transfer''s category and reference and its posting''s time'
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_lot_made_check BEFORE INSERT ON reserve_lot
    FOR EACH ROW EXECUTE FUNCTION reserve_lot_made_check();

CREATE OR REPLACE FUNCTION reserve_lot_taken_check() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    wallet bigint;
    taken bigint;
BEGIN
    IF NEW.restores_id IS NOT NULL THEN
        RETURN NEW;  -- a restoration: reserve_lot_consumption_check (0085) bounds it
    END IF;
    SELECT wallet_id INTO wallet FROM reserve_lot WHERE id = NEW.lot_id;
    SELECT coalesce(sum(c.amount_sats), 0) INTO taken
      FROM reserve_lotconsumption c JOIN reserve_lot l ON l.id = c.lot_id
     WHERE c.journal_transaction_id = NEW.journal_transaction_id AND l.wallet_id = wallet AND c.restores_id IS NULL;
    IF taken + NEW.amount_sats > -reserve_lot_posting_sats(NEW.journal_transaction_id, wallet) THEN
        RAISE EXCEPTION 'reserve_lotconsumption: posting % took less than % sats from wallet %',
            NEW.journal_transaction_id, taken + NEW.amount_sats, wallet USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_lot_taken_check BEFORE INSERT ON reserve_lotconsumption
    FOR EACH ROW EXECUTE FUNCTION reserve_lot_taken_check();
