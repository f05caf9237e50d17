-- A wallet's agency and perimeter membership is an effective-dated fact (reserve_walletmembership):
-- a change is proposed by one person and takes effect when another approves it; decided rows are
-- never edited or deleted, and reserve_wallet.agency_id / in_perimeter only mirror the membership
-- in force now.

CREATE OR REPLACE FUNCTION reserve_membership_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    latest timestamptz;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'wallet memberships are never deleted (membership %)', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'approved' AND NEW.effective_from IS NULL AND NEW.decided_by_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM reserve_walletmembership WHERE wallet_id = NEW.wallet_id) THEN
            RETURN NEW;  -- the membership a wallet is registered with: it has no history to restate
        END IF;
        IF NEW.status <> 'proposed' OR NEW.decided_by_id IS NOT NULL OR NEW.decided_at IS NOT NULL
           OR NEW.effective_from IS NOT NULL THEN
            RAISE EXCEPTION 'a membership change starts as a proposal (wallet %)', NEW.wallet_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status <> 'proposed' THEN
        RAISE EXCEPTION 'membership % is %: decided memberships are immutable', OLD.id, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.wallet_id, NEW.agency_id, NEW.in_perimeter, NEW.reason, NEW.proposed_at)
           IS DISTINCT FROM (OLD.wallet_id, OLD.agency_id, OLD.in_perimeter, OLD.reason, OLD.proposed_at)
       OR NEW.proposed_by_id IS DISTINCT FROM OLD.proposed_by_id THEN
        RAISE EXCEPTION 'membership %: a proposal is decided as proposed, never edited', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.status = 'approved' THEN
        IF NEW.decided_by_id IS NULL OR NEW.decided_by_id = OLD.proposed_by_id THEN
            RAISE EXCEPTION 'membership %: approved by someone other than its proposer, or not at all', OLD.id
                USING ERRCODE = 'check_violation';
        END IF;
        SELECT max(effective_from) INTO latest FROM reserve_walletmembership
            WHERE wallet_id = OLD.wallet_id AND status = 'approved';
        IF NEW.effective_from IS DISTINCT FROM NEW.decided_at OR NEW.decided_at < OLD.proposed_at
           OR NEW.effective_from <= latest THEN
            RAISE EXCEPTION 'membership %: takes effect when approved, after the membership it replaces', OLD.id
                USING ERRCODE = 'check_violation';
        END IF;
    ELSIF NEW.effective_from IS NOT NULL THEN
        RAISE EXCEPTION 'membership %: only an approval takes effect', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reserve_membership_guard BEFORE INSERT OR UPDATE OR DELETE ON reserve_walletmembership
    FOR EACH ROW EXECUTE FUNCTION reserve_membership_guard();

-- The wallet's columns follow the membership that has just come into force.
CREATE OR REPLACE FUNCTION reserve_membership_in_force() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'approved' THEN
        UPDATE reserve_wallet SET agency_id = NEW.agency_id, in_perimeter = NEW.in_perimeter
            WHERE id = NEW.wallet_id
              AND (agency_id, in_perimeter) IS DISTINCT FROM (NEW.agency_id, NEW.in_perimeter);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER reserve_membership_in_force AFTER INSERT OR UPDATE ON reserve_walletmembership
    FOR EACH ROW EXECUTE FUNCTION reserve_membership_in_force();

-- Nobody sets a wallet's agency or perimeter flag to anything but the membership in force.
CREATE OR REPLACE FUNCTION reserve_wallet_membership_mirror() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.agency_id, NEW.in_perimeter) IS DISTINCT FROM (OLD.agency_id, OLD.in_perimeter)
       AND NOT EXISTS (
           SELECT 1 FROM (
               SELECT agency_id, in_perimeter FROM reserve_walletmembership
               WHERE wallet_id = NEW.id AND status = 'approved'
               ORDER BY effective_from DESC NULLS LAST LIMIT 1
           ) m WHERE (m.agency_id, m.in_perimeter) = (NEW.agency_id, NEW.in_perimeter)
       ) THEN
        RAISE EXCEPTION 'wallet %: agency and in_perimeter change only by an approved membership', NEW.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reserve_wallet_membership_mirror BEFORE UPDATE ON reserve_wallet
    FOR EACH ROW EXECUTE FUNCTION reserve_wallet_membership_mirror();
