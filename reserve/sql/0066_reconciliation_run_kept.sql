-- A reconciliation run is a record (reserve/reconciliation/services.py): the service's role may
-- not delete it (config/database_privileges.py) and may change it only while it runs. Once
-- succeeded or failed it stays as written; a wallet's "last checked" time, which a run that
-- finds nothing new moves instead of adding a row, lives on its scan cursor, not here.

CREATE OR REPLACE FUNCTION reserve_reconciliationrun_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'running' THEN
        RAISE EXCEPTION 'reconciliation run %: a finished run is kept as written', OLD.id USING ERRCODE = '23L01';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_reconciliationrun_kept BEFORE UPDATE OR DELETE ON reserve_reconciliationrun
    FOR EACH ROW EXECUTE FUNCTION reserve_reconciliationrun_kept();
