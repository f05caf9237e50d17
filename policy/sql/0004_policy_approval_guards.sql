-- Approvals bind what they approved; approvers hold the role; authors and approvals are permanent.
-- SQLSTATE 23L01 (immutable record), 23L06 (approval refused).
--
-- policy_version_content_sha256(version row) is THE recipe of a version's content hash
-- (Python reads it through policy.selectors.version_content_sha256, never computes its own):
-- SHA-256 over the jsonb text of its policy, scope, number, kind, rules and effective period
-- (jsonb prints keys in one fixed order, times in UTC to the microsecond).

CREATE OR REPLACE FUNCTION policy_canonical_time(value timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE OR REPLACE FUNCTION policy_version_content_sha256(v policy_policyversion) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(jsonb_build_object(
        'policy_id', v.policy_id, 'scope_kind', p.scope_kind, 'scope_object_id', p.scope_object_id,
        'version', v.version, 'kind', v.kind, 'rules', v.rules,
        'effective_from', policy_canonical_time(v.effective_from),
        'effective_to', policy_canonical_time(v.effective_to))::text, 'UTF8')), 'hex')
      FROM policy_policy p WHERE p.id = v.policy_id
$$;

-- Whether a user holds `app_label.codename` as Django's ModelBackend decides it: an active
-- account that is a superuser, or holds it directly or through a group. Used by every
-- approval guard (policy's and reserve's).
CREATE OR REPLACE FUNCTION policy_user_holds_permission(p_user_id bigint, p_app_label text, p_codename text)
    RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM auth_user u WHERE u.id = p_user_id AND u.is_active AND (
            u.is_superuser
            OR EXISTS (SELECT 1 FROM auth_user_user_permissions up
                         JOIN auth_permission perm ON perm.id = up.permission_id
                         JOIN django_content_type ct ON ct.id = perm.content_type_id
                        WHERE up.user_id = u.id AND perm.codename = p_codename AND ct.app_label = p_app_label)
            OR EXISTS (SELECT 1 FROM auth_user_groups ug
                         JOIN auth_group_permissions gp ON gp.group_id = ug.group_id
                         JOIN auth_permission perm ON perm.id = gp.permission_id
                         JOIN django_content_type ct ON ct.id = perm.content_type_id
                        WHERE ug.user_id = u.id AND perm.codename = p_codename AND ct.app_label = p_app_label)))
$$;

-- An approval: of a draft, by a holder of policy.approve_policyversion who is not its
-- author, stamped with the hash of the content as it stands (under the version's row lock).
CREATE OR REPLACE FUNCTION policy_approval_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v policy_policyversion;
    digest text;
BEGIN
    SELECT * INTO v FROM policy_policyversion WHERE id = NEW.version_id FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy approval refers to missing version %', NEW.version_id USING ERRCODE = '23503';
    END IF;
    IF v.status <> 'draft' THEN
        RAISE EXCEPTION 'policy version % is %, only drafts are approved', v.id, v.status USING ERRCODE = '23L06';
    END IF;
    IF NEW.approver_id = v.author_id THEN
        RAISE EXCEPTION 'policy version %: its author cannot approve it', v.id USING ERRCODE = '23L06';
    END IF;
    IF NOT policy_user_holds_permission(NEW.approver_id, 'policy', 'approve_policyversion') THEN
        RAISE EXCEPTION 'policy version %: user % does not hold policy.approve_policyversion', v.id, NEW.approver_id
            USING ERRCODE = '23L06';
    END IF;
    digest := policy_version_content_sha256(v);
    IF coalesce(NEW.content_sha256, '') = '' THEN
        NEW.content_sha256 := digest;
    ELSIF NEW.content_sha256 <> digest THEN
        RAISE EXCEPTION 'policy version %: the approval names content % but the version is now %',
            v.id, NEW.content_sha256, digest USING ERRCODE = '23L06';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER policy_policyversionapproval_check BEFORE INSERT ON policy_policyversionapproval
    FOR EACH ROW EXECUTE FUNCTION policy_approval_before_insert();

-- Versions: the author never changes; once approved by anyone, the content is fixed; a draft
-- becomes active only with two approvals by others than its author whose hash is its content's.
CREATE OR REPLACE FUNCTION policy_version_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    approvals integer;
BEGIN
    IF NEW.author_id IS DISTINCT FROM OLD.author_id OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'policy version %: its author is permanent', OLD.id USING ERRCODE = '23L01';
    END IF;
    IF (OLD.status <> 'draft' OR EXISTS (SELECT 1 FROM policy_policyversionapproval WHERE version_id = OLD.id))
       AND policy_version_content_sha256(NEW) IS DISTINCT FROM policy_version_content_sha256(OLD) THEN
        RAISE EXCEPTION 'policy version % is approved: its content is permanent', OLD.id USING ERRCODE = '23L01';
    END IF;
    IF OLD.status <> 'draft' THEN
        IF (NEW.comment, NEW.created_at, NEW.activated_at) IS DISTINCT FROM (OLD.comment, OLD.created_at, OLD.activated_at)
           OR NOT (NEW.status = OLD.status OR (OLD.status = 'active' AND NEW.status = 'retired')) THEN
            RAISE EXCEPTION 'policy version % is approved: its content is permanent (only active -> retired)', OLD.id
                USING ERRCODE = '23L01';
        END IF;
    ELSIF NEW.status <> 'draft' THEN
        SELECT count(DISTINCT approver_id) INTO approvals FROM policy_policyversionapproval
            WHERE version_id = NEW.id AND approver_id <> NEW.author_id
              AND content_sha256 = policy_version_content_sha256(NEW);
        IF approvals < 2 THEN
            RAISE EXCEPTION 'policy version % needs two approvals of its content by others than its author (has %)',
                NEW.id, approvals USING ERRCODE = '23L01';
        END IF;
    END IF;
    RETURN NEW;
END $$;

-- A policy's scope is part of its versions' content: fixed once any version has an approval.
CREATE OR REPLACE FUNCTION policy_policy_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.scope_kind, NEW.scope_object_id) IS DISTINCT FROM (OLD.id, OLD.scope_kind, OLD.scope_object_id)
       AND EXISTS (SELECT 1 FROM policy_policyversion v JOIN policy_policyversionapproval a ON a.version_id = v.id
                    WHERE v.policy_id = OLD.id) THEN
        RAISE EXCEPTION 'policy %: its scope is permanent once a version is approved', OLD.id USING ERRCODE = '23L01';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER policy_policy_guard BEFORE UPDATE ON policy_policy
    FOR EACH ROW EXECUTE FUNCTION policy_policy_before_update();
