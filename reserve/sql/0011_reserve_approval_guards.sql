-- Transfer approvals, as the database sees them (approval rows are append-only since 0002):
-- the approver holds reserve.approve_transfer (policy_user_holds_permission, the one
-- reading of Django's permissions in SQL, policy/sql/0004_policy_approval_guards.sql), and
-- the proposer of a transfer never changes once set or once anyone has decided on it.

CREATE OR REPLACE FUNCTION reserve_approval_approver_holds_role() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT policy_user_holds_permission(NEW.approver_id, 'reserve', 'approve_transfer') THEN
        RAISE EXCEPTION 'transfer %: user % does not hold reserve.approve_transfer', NEW.transfer_id, NEW.approver_id
            USING ERRCODE = '23L06';
    END IF;
    RETURN NEW;
END $$;

-- Named to fire after reserve_approval_not_proposer (name order), which says why more precisely.
CREATE TRIGGER reserve_approval_role_held BEFORE INSERT ON reserve_approval
    FOR EACH ROW EXECUTE FUNCTION reserve_approval_approver_holds_role();

CREATE OR REPLACE FUNCTION reserve_transfer_keep_proposer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.proposer_id IS DISTINCT FROM OLD.proposer_id
       AND (OLD.proposer_id IS NOT NULL OR EXISTS (SELECT 1 FROM reserve_approval WHERE transfer_id = OLD.id)) THEN
        RAISE EXCEPTION 'transfer %: its proposer is permanent', OLD.id USING ERRCODE = '23L01';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_transfer_keep_proposer BEFORE UPDATE ON reserve_transfer
    FOR EACH ROW EXECUTE FUNCTION reserve_transfer_keep_proposer();
