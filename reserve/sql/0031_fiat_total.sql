-- A recorded fiat total is a dated fact the policy judges by: never edited or deleted, even by
-- the owner; a correction is a new record.
CREATE TRIGGER reserve_fiattotal_append_only BEFORE UPDATE OR DELETE ON reserve_fiattotal
    FOR EACH ROW EXECUTE FUNCTION reserve_append_only();
