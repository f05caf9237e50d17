-- A coin's freeze is history (reserve/transfers/coins.py): the service's role may not delete it
-- (config/database_privileges.py) and may change it only by closing it once. What was frozen,
-- by whom, when and why stays as written; a closed freeze is never reopened or rewritten.

CREATE OR REPLACE FUNCTION reserve_utxofreeze_close_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.unfrozen_at IS NOT NULL
        OR NEW.utxo_id IS DISTINCT FROM OLD.utxo_id
        OR NEW.reason IS DISTINCT FROM OLD.reason
        OR NEW.frozen_by_id IS DISTINCT FROM OLD.frozen_by_id
        OR NEW.frozen_at IS DISTINCT FROM OLD.frozen_at THEN
        RAISE EXCEPTION 'freeze %: only closing an open freeze is allowed', OLD.id USING ERRCODE = '23L01';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_utxofreeze_close_once BEFORE UPDATE ON reserve_utxofreeze
    FOR EACH ROW EXECUTE FUNCTION reserve_utxofreeze_close_once();
