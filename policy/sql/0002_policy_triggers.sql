-- Policy records that must not be rewritten, enforced by PostgreSQL so raw SQL cannot either.
-- SQLSTATE 23L01 (immutable record, as in the ledger); class 23 makes drivers raise an integrity error.

-- Evaluations and version approvals are append-only.
CREATE OR REPLACE FUNCTION policy_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = '23L01';
END $$;

CREATE TRIGGER policy_policyevaluation_immutable BEFORE UPDATE OR DELETE ON policy_policyevaluation
    FOR EACH ROW EXECUTE FUNCTION policy_immutable();

CREATE TRIGGER policy_policyversionapproval_immutable BEFORE UPDATE OR DELETE ON policy_policyversionapproval
    FOR EACH ROW EXECUTE FUNCTION policy_immutable();

-- An approved version keeps its content for good; it may only go from active to retired.
-- A draft becomes active only with two approvals by people other than its author.
CREATE OR REPLACE FUNCTION policy_version_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    approvals integer;
BEGIN
    IF OLD.status <> 'draft' THEN
        IF (NEW.id, NEW.policy_id, NEW.version, NEW.kind, NEW.rules, NEW.effective_from, NEW.effective_to,
            NEW.author_id, NEW.comment, NEW.created_at, NEW.activated_at)
           IS DISTINCT FROM
           (OLD.id, OLD.policy_id, OLD.version, OLD.kind, OLD.rules, OLD.effective_from, OLD.effective_to,
            OLD.author_id, OLD.comment, OLD.created_at, OLD.activated_at)
           OR NOT (NEW.status = OLD.status OR (OLD.status = 'active' AND NEW.status = 'retired')) THEN
            RAISE EXCEPTION 'policy version % is approved: its content is permanent (only active -> retired)', OLD.id
                USING ERRCODE = '23L01';
        END IF;
    ELSIF NEW.status <> 'draft' THEN
        SELECT count(DISTINCT approver_id) INTO approvals FROM policy_policyversionapproval
            WHERE version_id = NEW.id AND approver_id <> NEW.author_id;
        IF approvals < 2 THEN
            RAISE EXCEPTION 'policy version % needs two approvals by others than its author (has %)', NEW.id, approvals
                USING ERRCODE = '23L01';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER policy_policyversion_guard BEFORE UPDATE ON policy_policyversion
    FOR EACH ROW EXECUTE FUNCTION policy_version_before_update();

CREATE OR REPLACE FUNCTION policy_version_before_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'draft' THEN
        RAISE EXCEPTION 'policy version % is approved and cannot be deleted', OLD.id USING ERRCODE = '23L01';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER policy_policyversion_no_delete BEFORE DELETE ON policy_policyversion
    FOR EACH ROW EXECUTE FUNCTION policy_version_before_delete();

-- Breaches are never deleted; the only change is open -> resolved, filling in the resolution.
CREATE OR REPLACE FUNCTION policy_breach_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'open' OR NEW.status <> 'resolved'
       OR (NEW.id, NEW.version_id, NEW.rule_index, NEW.rule_type, NEW.evaluation_id, NEW.subject_type,
           NEW.subject_id, NEW.occurred_at, NEW.block_height, NEW.measured_sats, NEW.limit_sats, NEW.reason,
           NEW.detected_at)
          IS DISTINCT FROM
          (OLD.id, OLD.version_id, OLD.rule_index, OLD.rule_type, OLD.evaluation_id, OLD.subject_type,
           OLD.subject_id, OLD.occurred_at, OLD.block_height, OLD.measured_sats, OLD.limit_sats, OLD.reason,
           OLD.detected_at) THEN
        RAISE EXCEPTION 'policy breach % can only be resolved, once', OLD.id USING ERRCODE = '23L01';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER policy_policybreach_guard BEFORE UPDATE ON policy_policybreach
    FOR EACH ROW EXECUTE FUNCTION policy_breach_before_update();

CREATE TRIGGER policy_policybreach_no_delete BEFORE DELETE ON policy_policybreach
    FOR EACH ROW EXECUTE FUNCTION policy_immutable();
