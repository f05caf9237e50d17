-- A transfer's category is a term of the governed vocabulary in force (policy_category, active):
-- one proposed or still in review cannot be used, and an active term is never changed or deleted
-- (policy/sql/0005_policy_categories.sql), so a booked transfer keeps its meaning.
-- SQLSTATE 23514 (check violation), as the CHECK constraint it replaces.
CREATE OR REPLACE FUNCTION reserve_transfer_category_in_force() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'INSERT' OR NEW.category IS DISTINCT FROM OLD.category)
       AND NOT EXISTS (SELECT 1 FROM policy_category WHERE code = NEW.category AND status = 'active') THEN
        RAISE EXCEPTION 'transfer category % is not an approved category', NEW.category USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_transfer_category_governed BEFORE INSERT OR UPDATE OF category ON reserve_transfer
    FOR EACH ROW EXECUTE FUNCTION reserve_transfer_category_in_force();
