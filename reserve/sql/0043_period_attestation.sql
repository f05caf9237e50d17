-- A period attestation is a signed statement given out: never edited or withdrawn afterwards.
CREATE TRIGGER reserve_periodattestation_append_only BEFORE UPDATE OR DELETE ON reserve_periodattestation
    FOR EACH ROW EXECUTE FUNCTION reserve_append_only();
