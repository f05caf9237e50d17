-- A transfer keeps the category it was created with: limits by category count an inflow from
-- outside by its tag, so relabelling a posted purchase as a forfeiture would give the yearly
-- purchase allowance back. The one change allowed here: an inbound transfer nobody proposed (seen
-- on chain) classed into an involuntary term in force. 0120_involuntary_mark_approval.sql replaces
-- this function: the change then also needs a mark approved by a second person. SQLSTATE 23514 (check violation), as the category's
-- other checks (0095_transfer_category_direction.sql).
CREATE OR REPLACE FUNCTION reserve_transfer_category_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.category IS DISTINCT FROM OLD.category
       AND NOT (OLD.observed AND OLD.proposer_id IS NULL AND OLD.direction = 'inbound'
                AND NEW.direction = 'inbound'
                AND EXISTS (SELECT 1 FROM policy_category
                            WHERE code = NEW.category AND status = 'active' AND involuntary)) THEN
        RAISE EXCEPTION 'transfer %: its category % is permanent (only an inflow nobody proposed may be marked involuntary)',
            OLD.id, OLD.category USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_transfer_category_permanent BEFORE UPDATE OF category ON reserve_transfer
    FOR EACH ROW EXECUTE FUNCTION reserve_transfer_category_permanent();
