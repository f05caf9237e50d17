-- Invariants of the reserve records that PostgreSQL enforces whatever the client.

-- The audit trail is append-only: corrections are new events, never edits.
CREATE OR REPLACE FUNCTION reserve_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER reserve_auditevent_append_only BEFORE UPDATE OR DELETE ON reserve_auditevent
    FOR EACH ROW EXECUTE FUNCTION reserve_append_only();

-- An approval is a signed decision: it is never edited or withdrawn afterwards.
CREATE TRIGGER reserve_approval_append_only BEFORE UPDATE OR DELETE ON reserve_approval
    FOR EACH ROW EXECUTE FUNCTION reserve_append_only();

-- Maker-checker: nobody approves (or rejects) their own proposal.
CREATE OR REPLACE FUNCTION reserve_approval_not_proposer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM reserve_transfer WHERE id = NEW.transfer_id AND proposer_id = NEW.approver_id) THEN
        RAISE EXCEPTION 'the proposer of transfer % cannot approve it', NEW.transfer_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reserve_approval_not_proposer BEFORE INSERT ON reserve_approval
    FOR EACH ROW EXECUTE FUNCTION reserve_approval_not_proposer();
