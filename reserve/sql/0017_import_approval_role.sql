-- An import batch's approver holds reserve.approve_transfer in the database too (the permission
-- reserve/imports/services.py asks), read by policy_user_holds_permission, the one reading of
-- Django's permissions in SQL (policy/sql/0004_policy_approval_guards.sql).

CREATE OR REPLACE FUNCTION reserve_importapproval_approver_holds_role() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT policy_user_holds_permission(NEW.approver_id, 'reserve', 'approve_transfer') THEN
        RAISE EXCEPTION 'import batch %: user % does not hold reserve.approve_transfer', NEW.batch_id, NEW.approver_id
            USING ERRCODE = '23L06';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_importapproval_role_held BEFORE INSERT ON reserve_importapproval
    FOR EACH ROW EXECUTE FUNCTION reserve_importapproval_approver_holds_role();
