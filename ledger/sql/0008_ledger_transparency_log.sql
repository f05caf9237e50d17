-- The transparency log (ledger/log/, docs/LEDGER.md) and posting without the chain lock.
--
-- * A posting takes its order number from ledger_journal_sequence after locking its
--   accounts (so per-account order, which running balances need, is still sequence order)
--   and after taking its transaction id, which the sealer's horizon relies on
--   (ledger/log/sealer.py). No ledger-wide lock: new transactions are not chained
--   (prev_hash ''); their hash commits to their content, and the log to their hashes.
-- * Every inserted journal transaction, raw SQL included, is queued in ledger_logpending.
-- * Leaves, nodes and heads are append-only; each insert is checked against what it
--   must equal (leaf hash of the transaction's hash, node hash of its children, heads one
--   per size and growing). Signatures are checked outside (verify_ledger, scripts/verify_log.py).
-- SQLSTATE 23L05: a log row that is not what the log must hold.

CREATE SEQUENCE ledger_journal_sequence AS bigint MINVALUE 1;
SELECT setval('ledger_journal_sequence', coalesce(max(sequence), 0) + 1, false) FROM ledger_journaltransaction;

CREATE OR REPLACE FUNCTION ledger_append(
    p_id uuid, p_idempotency_key text, p_request_hash text, p_occurred_at timestamptz,
    p_block_height bigint, p_block_hash text, p_txid text, p_kind text, p_memo text, p_metadata jsonb,
    p_reverses uuid, p_created_by bigint, p_content_digest text,
    p_accounts bigint[], p_amounts bigint[], p_currencies text[],
    OUT out_replayed_id uuid, OUT out_sequence bigint, OUT out_prev_hash text, OUT out_hash text,
    OUT out_posted_at timestamptz, OUT out_occurred_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM ledger_accountbalance b WHERE b.account_id = ANY(p_accounts) ORDER BY b.account_id FOR UPDATE;
    SELECT t.id INTO out_replayed_id FROM ledger_journaltransaction t WHERE t.idempotency_key = p_idempotency_key;
    IF FOUND THEN
        RETURN;
    END IF;
    -- The transaction id before the order number: see ledger/log/sealer.py (the horizon).
    PERFORM pg_current_xact_id();
    out_sequence := nextval('ledger_journal_sequence');
    out_prev_hash := '';
    out_posted_at := clock_timestamp();
    out_occurred_at := coalesce(p_occurred_at, out_posted_at);
    out_hash := ledger_link_hash(out_prev_hash, out_sequence, out_occurred_at, out_posted_at, p_content_digest);
    INSERT INTO ledger_journaltransaction (id, sequence, idempotency_key, request_hash, occurred_at, posted_at,
        block_height, block_hash, txid, kind, memo, metadata, reverses_id, prev_hash, hash, created_by_id)
    VALUES (p_id, out_sequence, p_idempotency_key, p_request_hash, out_occurred_at, out_posted_at,
        p_block_height, p_block_hash, p_txid, p_kind, p_memo, p_metadata, p_reverses, out_prev_hash, out_hash,
        p_created_by);
    INSERT INTO ledger_entry (transaction_id, account_id, amount_sats, currency, sequence, balance_after_sats)
    SELECT p_id, leg.account_id, leg.amount_sats, leg.currency, 0, 0
      FROM unnest(p_accounts, p_amounts, p_currencies) WITH ORDINALITY AS leg(account_id, amount_sats, currency, position)
     ORDER BY leg.position;
END $$;

-- Replaces 0005's chain-link check: a new transaction is unchained and its number was handed out.
CREATE OR REPLACE FUNCTION ledger_transaction_check_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.prev_hash <> '' THEN
        RAISE EXCEPTION 'ledger: new transactions are not chained (prev_hash must be empty); the log orders them'
            USING ERRCODE = '23L04';
    END IF;
    IF NEW.sequence > (SELECT last_value FROM ledger_journal_sequence) THEN
        RAISE EXCEPTION 'ledger: sequence % was not handed out by ledger_journal_sequence', NEW.sequence
            USING ERRCODE = '23L04';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ledger_log_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_logpending (transaction_id, sequence) VALUES (NEW.id, NEW.sequence);
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_journaltransaction_log_enqueue AFTER INSERT ON ledger_journaltransaction
    FOR EACH ROW EXECUTE FUNCTION ledger_log_enqueue();

-- Queued until sealed: the queue entry of a transaction goes only once its leaf exists.
CREATE OR REPLACE FUNCTION ledger_log_pending_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'ledger log queue entries cannot be changed' USING ERRCODE = '23L01';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ledger_logleaf l WHERE l.transaction_id = OLD.transaction_id) THEN
        RAISE EXCEPTION 'ledger log: transaction % is not sealed yet', OLD.transaction_id USING ERRCODE = '23L05';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER ledger_logpending_guard BEFORE UPDATE OR DELETE ON ledger_logpending
    FOR EACH ROW EXECUTE FUNCTION ledger_log_pending_guard();

CREATE OR REPLACE FUNCTION ledger_log_leaf_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tx_hash text;
    next_index bigint;
BEGIN
    -- ('LEDG', 3): must match ledger.log.sealer.SEAL_LOCK_ID; the sealer already holds it.
    PERFORM pg_advisory_xact_lock(1279607879, 3);
    SELECT coalesce(max(l.index), -1) + 1 INTO next_index FROM ledger_logleaf l;
    IF NEW.index IS DISTINCT FROM next_index THEN
        RAISE EXCEPTION 'ledger log: leaf % appended where the next leaf is %', NEW.index, next_index
            USING ERRCODE = '23L05';
    END IF;
    SELECT t.hash INTO tx_hash FROM ledger_journaltransaction t WHERE t.id = NEW.transaction_id;
    IF NEW.leaf_hash IS DISTINCT FROM encode(sha256('\x00'::bytea || decode(tx_hash, 'hex')), 'hex') THEN
        RAISE EXCEPTION 'ledger log: leaf % is not the leaf hash of its transaction', NEW.index
            USING ERRCODE = '23L05';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_logleaf_check BEFORE INSERT ON ledger_logleaf
    FOR EACH ROW EXECUTE FUNCTION ledger_log_leaf_check();

CREATE OR REPLACE FUNCTION ledger_log_node_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    left_hash text;
    right_hash text;
BEGIN
    IF NEW.level = 1 THEN
        SELECT l.leaf_hash INTO left_hash FROM ledger_logleaf l WHERE l.index = 2 * NEW.index;
        SELECT l.leaf_hash INTO right_hash FROM ledger_logleaf l WHERE l.index = 2 * NEW.index + 1;
    ELSE
        SELECT n.hash INTO left_hash FROM ledger_lognode n WHERE n.level = NEW.level - 1 AND n.index = 2 * NEW.index;
        SELECT n.hash INTO right_hash FROM ledger_lognode n
         WHERE n.level = NEW.level - 1 AND n.index = 2 * NEW.index + 1;
    END IF;
    IF left_hash IS NULL OR right_hash IS NULL OR NEW.hash IS DISTINCT FROM
       encode(sha256('\x01'::bytea || decode(left_hash, 'hex') || decode(right_hash, 'hex')), 'hex') THEN
        RAISE EXCEPTION 'ledger log: node %/% is not the node hash of its children', NEW.level, NEW.index
            USING ERRCODE = '23L05';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_lognode_check BEFORE INSERT ON ledger_lognode
    FOR EACH ROW EXECUTE FUNCTION ledger_log_node_check();

CREATE OR REPLACE FUNCTION ledger_log_head_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    latest RECORD;
BEGIN
    PERFORM pg_advisory_xact_lock(1279607879, 3);
    SELECT h.tree_size, h.timestamp_ms INTO latest FROM ledger_signedtreehead h ORDER BY h.tree_size DESC LIMIT 1;
    IF FOUND AND (NEW.tree_size <= latest.tree_size OR NEW.timestamp_ms < latest.timestamp_ms) THEN
        RAISE EXCEPTION 'ledger log: head of size % after the head of size %: heads only grow', NEW.tree_size,
            latest.tree_size USING ERRCODE = '23L05';
    END IF;
    IF NEW.tree_size > 0 AND NOT EXISTS (SELECT 1 FROM ledger_logleaf l WHERE l.index = NEW.tree_size - 1) THEN
        RAISE EXCEPTION 'ledger log: head of size % is larger than the log', NEW.tree_size USING ERRCODE = '23L05';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_signedtreehead_check BEFORE INSERT ON ledger_signedtreehead
    FOR EACH ROW EXECUTE FUNCTION ledger_log_head_check();

CREATE TRIGGER ledger_logleaf_immutable BEFORE UPDATE OR DELETE ON ledger_logleaf
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_lognode_immutable BEFORE UPDATE OR DELETE ON ledger_lognode
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER ledger_signedtreehead_immutable BEFORE UPDATE OR DELETE ON ledger_signedtreehead
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- What was posted before this migration is sealed first, in its chain's order.
INSERT INTO ledger_logpending (transaction_id, sequence) SELECT id, sequence FROM ledger_journaltransaction;
