-- Marking an inflow involuntary is maker-checker (reserve_involuntarymark): one holder of
-- reserve.execute_transfer proposes the term, another user holding reserve.approve_transfer
-- approves it, and only then may the transfer's category change (rules exempt involuntary
-- inflows, so one person alone could hide a purchase as a "donation"). Decided marks are never
-- edited or deleted. Replaces 0116's reserve_transfer_category_permanent().
-- SQLSTATE 23L01 (immutable record), 23L06 (approval refused), 23514 (check violation).

-- Whether `t` may be classed into `category`: an inflow nobody proposed (seen on chain), into
-- an involuntary term in force. The one reading of "markable" in SQL (Python's is
-- reserve.transfers.involuntary.involuntary_markable, plus policy's involuntary_category_codes).
CREATE OR REPLACE FUNCTION reserve_involuntary_markable(t reserve_transfer, category text)
    RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT t.observed AND t.proposer_id IS NULL AND t.direction = 'inbound'
       AND EXISTS (SELECT 1 FROM policy_category c
                    WHERE c.code = category AND c.status = 'active' AND c.involuntary)
$$;

CREATE OR REPLACE FUNCTION reserve_involuntary_mark_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t reserve_transfer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'involuntary marks are never deleted (mark %)', OLD.id USING ERRCODE = '23L01';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'proposed' OR NEW.decided_by_id IS NOT NULL OR NEW.decided_at IS NOT NULL THEN
            RAISE EXCEPTION 'an involuntary mark starts as a proposal (transfer %)', NEW.transfer_id
                USING ERRCODE = '23L06';
        END IF;
        IF NOT policy_user_holds_permission(NEW.proposed_by_id, 'reserve', 'execute_transfer') THEN
            RAISE EXCEPTION 'transfer %: user % does not hold reserve.execute_transfer', NEW.transfer_id,
                NEW.proposed_by_id USING ERRCODE = '23L06';
        END IF;
        SELECT * INTO t FROM reserve_transfer WHERE id = NEW.transfer_id;
        IF NOT reserve_involuntary_markable(t, NEW.category) THEN
            RAISE EXCEPTION 'transfer %: only an inflow nobody proposed may be marked, into an involuntary term in force',
                NEW.transfer_id USING ERRCODE = '23514';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status <> 'proposed' THEN
        RAISE EXCEPTION 'involuntary mark % is %: decided marks are immutable', OLD.id, OLD.status
            USING ERRCODE = '23L01';
    END IF;
    IF (NEW.transfer_id, NEW.category, NEW.reason, NEW.proposed_by_id, NEW.proposed_at)
           IS DISTINCT FROM (OLD.transfer_id, OLD.category, OLD.reason, OLD.proposed_by_id, OLD.proposed_at) THEN
        RAISE EXCEPTION 'involuntary mark %: a proposal is decided as proposed, never edited', OLD.id
            USING ERRCODE = '23L01';
    END IF;
    IF NEW.status <> 'proposed' THEN
        IF NEW.decided_by_id IS NULL OR NEW.decided_by_id = OLD.proposed_by_id THEN
            RAISE EXCEPTION 'involuntary mark %: decided by someone other than its proposer, or not at all', OLD.id
                USING ERRCODE = '23L06';
        END IF;
        IF NOT policy_user_holds_permission(NEW.decided_by_id, 'reserve', 'approve_transfer') THEN
            RAISE EXCEPTION 'involuntary mark %: user % does not hold reserve.approve_transfer', OLD.id,
                NEW.decided_by_id USING ERRCODE = '23L06';
        END IF;
    END IF;
    IF NEW.status = 'approved' THEN
        SELECT * INTO t FROM reserve_transfer WHERE id = NEW.transfer_id;
        IF NOT reserve_involuntary_markable(t, NEW.category) THEN
            RAISE EXCEPTION 'involuntary mark %: transfer % is no longer markable as %', OLD.id, NEW.transfer_id,
                NEW.category USING ERRCODE = '23514';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_involuntary_mark_guard BEFORE INSERT OR UPDATE OR DELETE ON reserve_involuntarymark
    FOR EACH ROW EXECUTE FUNCTION reserve_involuntary_mark_guard();

-- A transfer keeps the category it was created with (see 0116): limits by category count an
-- inflow by its tag. The one change allowed is into the term of an approved mark of that
-- transfer, approved by someone other than its proposer, while the transfer is still markable.
CREATE OR REPLACE FUNCTION reserve_transfer_category_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.category IS DISTINCT FROM OLD.category
       AND NOT (NEW.direction = 'inbound' AND reserve_involuntary_markable(OLD, NEW.category)
                AND EXISTS (SELECT 1 FROM reserve_involuntarymark m
                             WHERE m.transfer_id = OLD.id AND m.category = NEW.category
                               AND m.status = 'approved' AND m.decided_by_id IS NOT NULL
                               AND m.decided_by_id <> m.proposed_by_id)) THEN
        RAISE EXCEPTION 'transfer %: its category % is permanent (only an approved involuntary mark changes it)',
            OLD.id, OLD.category USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
