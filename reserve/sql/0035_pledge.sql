-- Pledges and liabilities (issue 15): never deleted; an approved record changes only to be
-- released, once; its approval is given once, by someone other than its maker (the CHECK
-- reserve_pledge_checker_not_maker), and a made record's own fields stay as made.
CREATE OR REPLACE FUNCTION reserve_pledge_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'reserve_pledge is never deleted (release it instead)' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.kind, NEW.wallet_id, NEW.amount_sats, NEW.purpose, NEW.reference, NEW.dated, NEW.made_by_id, NEW.made_at)
       IS DISTINCT FROM
       (OLD.kind, OLD.wallet_id, OLD.amount_sats, OLD.purpose, OLD.reference, OLD.dated, OLD.made_by_id, OLD.made_at) THEN
        RAISE EXCEPTION 'reserve_pledge %: a made record is not edited (make a new one)', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.approved_at IS NOT NULL AND (NEW.approved_by_id, NEW.approved_at) IS DISTINCT FROM (OLD.approved_by_id, OLD.approved_at) THEN
        RAISE EXCEPTION 'reserve_pledge %: its approval is given once', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.released_at IS NOT NULL AND (NEW.released_by_id, NEW.released_at, NEW.release_reference)
       IS DISTINCT FROM (OLD.released_by_id, OLD.released_at, OLD.release_reference) THEN
        RAISE EXCEPTION 'reserve_pledge %: it is released once', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_pledge_guard BEFORE UPDATE OR DELETE ON reserve_pledge
    FOR EACH ROW EXECUTE FUNCTION reserve_pledge_guard();
