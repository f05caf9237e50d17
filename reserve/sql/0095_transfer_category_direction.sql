-- A transfer's category is a term of the governed vocabulary in force (policy_category, active)
-- whose kind allows the transfer's direction: an inflow source is never used on an outbound
-- transfer, an outflow reason never on an inbound one (the pairs of policy/selectors.py
-- KIND_REFUSES_DIRECTION). An active term's kind never changes (policy/sql/0005_policy_categories.sql),
-- so checking the transfer's row is enough. SQLSTATE 23514 (check violation).
CREATE OR REPLACE FUNCTION reserve_transfer_category_in_force() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    term_kind text;
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.category, NEW.direction) IS NOT DISTINCT FROM (OLD.category, OLD.direction) THEN
        RETURN NEW;
    END IF;
    SELECT kind INTO term_kind FROM policy_category WHERE code = NEW.category AND status = 'active';
    IF term_kind IS NULL THEN
        RAISE EXCEPTION 'transfer category % is not an approved category', NEW.category USING ERRCODE = '23514';
    END IF;
    IF (term_kind, NEW.direction) IN (('inflow', 'outbound'), ('outflow', 'inbound')) THEN
        RAISE EXCEPTION 'transfer category % is an % category: it cannot be used on an % transfer',
            NEW.category, term_kind, NEW.direction USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS reserve_transfer_category_governed ON reserve_transfer;
CREATE TRIGGER reserve_transfer_category_governed BEFORE INSERT OR UPDATE OF category, direction ON reserve_transfer
    FOR EACH ROW EXECUTE FUNCTION reserve_transfer_category_in_force();
