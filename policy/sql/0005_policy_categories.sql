-- The governed vocabulary of transfer categories (policy_category) and its approvals.
-- SQLSTATE 23L01 (immutable record), 23L06 (approval refused).
--
-- A term is proposed as a draft by its author and comes into force (active) only with two
-- approvals of its content by holders of policy.approve_policyversion other than the author,
-- as a policy version does; an active term never changes and is never deleted, so a transfer
-- or a rule that names it keeps its meaning. Only the database owner (the migration seeding the
-- built-in terms) inserts a term already active.

CREATE OR REPLACE FUNCTION policy_category_content_sha256(c policy_category) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(jsonb_build_object(
        'code', c.code, 'kind', c.kind, 'legal_reference', c.legal_reference,
        'description', c.description, 'involuntary', c.involuntary)::text, 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION policy_category_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.status <> 'draft' OR NEW.author_id IS NULL OR NEW.activated_at IS NOT NULL)
       AND NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RAISE EXCEPTION 'category %: a new term is a draft by its author, approved before it is used', NEW.code
            USING ERRCODE = '23L06';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER policy_category_insert_guard BEFORE INSERT ON policy_category
    FOR EACH ROW EXECUTE FUNCTION policy_category_before_insert();

CREATE OR REPLACE FUNCTION policy_category_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    approvals integer;
BEGIN
    IF (NEW.id, NEW.code, NEW.author_id, NEW.created_at) IS DISTINCT FROM (OLD.id, OLD.code, OLD.author_id, OLD.created_at) THEN
        RAISE EXCEPTION 'category %: its code and author are permanent', OLD.code USING ERRCODE = '23L01';
    END IF;
    IF OLD.status <> 'draft' THEN
        IF ROW(NEW.*) IS DISTINCT FROM ROW(OLD.*) THEN
            RAISE EXCEPTION 'category % is approved: it is permanent', OLD.code USING ERRCODE = '23L01';
        END IF;
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM policy_categoryapproval WHERE category_id = OLD.id)
       AND policy_category_content_sha256(NEW) IS DISTINCT FROM policy_category_content_sha256(OLD) THEN
        RAISE EXCEPTION 'category % has approvals: its content is permanent', OLD.code USING ERRCODE = '23L01';
    END IF;
    IF NEW.status <> 'draft' THEN
        SELECT count(DISTINCT approver_id) INTO approvals FROM policy_categoryapproval
            WHERE category_id = NEW.id AND approver_id IS DISTINCT FROM NEW.author_id
              AND content_sha256 = policy_category_content_sha256(NEW);
        IF approvals < 2 THEN
            RAISE EXCEPTION 'category % needs two approvals of its content by others than its author (has %)',
                NEW.code, approvals USING ERRCODE = '23L01';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER policy_category_guard BEFORE UPDATE ON policy_category
    FOR EACH ROW EXECUTE FUNCTION policy_category_before_update();

CREATE OR REPLACE FUNCTION policy_category_before_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'draft' THEN
        RAISE EXCEPTION 'category % is approved and cannot be deleted', OLD.code USING ERRCODE = '23L01';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER policy_category_no_delete BEFORE DELETE ON policy_category
    FOR EACH ROW EXECUTE FUNCTION policy_category_before_delete();

-- An approval: of a draft, by a holder of policy.approve_policyversion who is not its author,
-- stamped with the hash of the content as it stands (under the term's row lock).
CREATE OR REPLACE FUNCTION policy_category_approval_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c policy_category;
    digest text;
BEGIN
    SELECT * INTO c FROM policy_category WHERE id = NEW.category_id FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'category approval refers to missing category %', NEW.category_id USING ERRCODE = '23503';
    END IF;
    IF c.status <> 'draft' THEN
        RAISE EXCEPTION 'category % is %, only drafts are approved', c.code, c.status USING ERRCODE = '23L06';
    END IF;
    IF NEW.approver_id IS NOT DISTINCT FROM c.author_id THEN
        RAISE EXCEPTION 'category %: its author cannot approve it', c.code USING ERRCODE = '23L06';
    END IF;
    IF NOT policy_user_holds_permission(NEW.approver_id, 'policy', 'approve_policyversion') THEN
        RAISE EXCEPTION 'category %: user % does not hold policy.approve_policyversion', c.code, NEW.approver_id
            USING ERRCODE = '23L06';
    END IF;
    digest := policy_category_content_sha256(c);
    IF coalesce(NEW.content_sha256, '') = '' THEN
        NEW.content_sha256 := digest;
    ELSIF NEW.content_sha256 <> digest THEN
        RAISE EXCEPTION 'category %: the approval names content % but the term is now %', c.code,
            NEW.content_sha256, digest USING ERRCODE = '23L06';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER policy_categoryapproval_check BEFORE INSERT ON policy_categoryapproval
    FOR EACH ROW EXECUTE FUNCTION policy_category_approval_before_insert();

CREATE TRIGGER policy_categoryapproval_immutable BEFORE UPDATE OR DELETE ON policy_categoryapproval
    FOR EACH ROW EXECUTE FUNCTION policy_immutable();
