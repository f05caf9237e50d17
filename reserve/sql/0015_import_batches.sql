-- Import batches are proposals: what the approvers saw (the file's hash and every row) is what posts.

-- The batch remembers the database transaction that proposed it; rows join only that one.
CREATE OR REPLACE FUNCTION reserve_importbatch_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_xid := txid_current();
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'import batch % is a record of a proposal: DELETE refused', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.kind IS DISTINCT FROM OLD.kind OR NEW.file_sha256 IS DISTINCT FROM OLD.file_sha256
       OR NEW.content_hash IS DISTINCT FROM OLD.content_hash OR NEW.proposer_id IS DISTINCT FROM OLD.proposer_id
       OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.created_xid IS DISTINCT FROM OLD.created_xid
       OR NEW.filename IS DISTINCT FROM OLD.filename THEN
        RAISE EXCEPTION 'import batch %: what was proposed (kind, hashes, proposer) is immutable', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status <> 'pending_approval' AND (NEW.status IS DISTINCT FROM OLD.status
       OR NEW.outcome IS DISTINCT FROM OLD.outcome OR NEW.refused_line IS DISTINCT FROM OLD.refused_line
       OR NEW.refused_rule IS DISTINCT FROM OLD.refused_rule OR NEW.refused_reason IS DISTINCT FROM OLD.refused_reason
       OR NEW.evaluation_id IS DISTINCT FROM OLD.evaluation_id) THEN
        RAISE EXCEPTION 'import batch % is %: its outcome is final', OLD.id, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reserve_importbatch_guard BEFORE INSERT OR UPDATE OR DELETE ON reserve_importbatch
    FOR EACH ROW EXECUTE FUNCTION reserve_importbatch_guard();

-- Rows are written with their batch, in the same database transaction, and never changed.
CREATE OR REPLACE FUNCTION reserve_importrow_with_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM reserve_importbatch WHERE id = NEW.batch_id AND created_xid = txid_current()) THEN
        RAISE EXCEPTION 'rows of import batch % are written only by the transaction that proposed it', NEW.batch_id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reserve_importrow_append_only BEFORE UPDATE OR DELETE ON reserve_importrow
    FOR EACH ROW EXECUTE FUNCTION reserve_append_only();
CREATE TRIGGER reserve_importrow_with_batch BEFORE INSERT ON reserve_importrow
    FOR EACH ROW EXECUTE FUNCTION reserve_importrow_with_batch();

-- A decision on a batch is never edited or withdrawn; it is never the proposer's, and it
-- binds the file hash of the batch, while the batch still waits for decisions.
CREATE TRIGGER reserve_importapproval_append_only BEFORE UPDATE OR DELETE ON reserve_importapproval
    FOR EACH ROW EXECUTE FUNCTION reserve_append_only();

CREATE OR REPLACE FUNCTION reserve_importapproval_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch reserve_importbatch%ROWTYPE;
BEGIN
    SELECT * INTO batch FROM reserve_importbatch WHERE id = NEW.batch_id;
    IF batch.proposer_id = NEW.approver_id THEN
        RAISE EXCEPTION 'the proposer of import batch % cannot decide on it', NEW.batch_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF batch.file_sha256 <> NEW.file_sha256 THEN
        RAISE EXCEPTION 'import batch % has file hash %, not the % approved', NEW.batch_id, batch.file_sha256, NEW.file_sha256
            USING ERRCODE = 'check_violation';
    END IF;
    IF batch.status <> 'pending_approval' THEN
        RAISE EXCEPTION 'import batch % is %, not waiting for decisions', NEW.batch_id, batch.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reserve_importapproval_check BEFORE INSERT ON reserve_importapproval
    FOR EACH ROW EXECUTE FUNCTION reserve_importapproval_check();
