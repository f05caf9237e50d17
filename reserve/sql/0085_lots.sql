-- Lots (issue 15): a lot and its consumptions are kept as written (no UPDATE, no DELETE); a
-- consumption takes at most what is left of its lot, and a restoration gives back exactly one
-- consumption of the same lot, once. The check runs under a lock on the lot row, so two postings
-- that take the same lot at once are judged one after the other. SECURITY DEFINER: the service
-- role may not lock (or change) a lot itself.
CREATE OR REPLACE FUNCTION reserve_lot_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER reserve_lot_kept BEFORE UPDATE OR DELETE ON reserve_lot
    FOR EACH ROW EXECUTE FUNCTION reserve_lot_kept();
CREATE TRIGGER reserve_lotconsumption_kept BEFORE UPDATE OR DELETE ON reserve_lotconsumption
    FOR EACH ROW EXECUTE FUNCTION reserve_lot_kept();

CREATE OR REPLACE FUNCTION reserve_lot_consumption_check() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    lot_amount bigint;
    taken bigint;
    restored record;
BEGIN
    SELECT amount_sats INTO lot_amount FROM reserve_lot WHERE id = NEW.lot_id FOR UPDATE;
    IF NEW.restores_id IS NOT NULL THEN
        SELECT lot_id, amount_sats, restores_id INTO restored FROM reserve_lotconsumption WHERE id = NEW.restores_id;
        IF restored.lot_id IS DISTINCT FROM NEW.lot_id OR restored.amount_sats <> -NEW.amount_sats
           OR restored.restores_id IS NOT NULL THEN
            RAISE EXCEPTION 'reserve_lotconsumption: a restoration gives back exactly one consumption of its lot'
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    SELECT coalesce(sum(amount_sats), 0) INTO taken FROM reserve_lotconsumption WHERE lot_id = NEW.lot_id;
    IF taken + NEW.amount_sats > lot_amount OR taken + NEW.amount_sats < 0 THEN
        RAISE EXCEPTION 'reserve_lotconsumption: lot % has % of % sats taken; % more is refused',
            NEW.lot_id, taken, lot_amount, NEW.amount_sats USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER reserve_lot_consumption_check BEFORE INSERT ON reserve_lotconsumption
    FOR EACH ROW EXECUTE FUNCTION reserve_lot_consumption_check();
