-- ledger_append: the chain step of a posting, in one round trip.
--
-- Called by ledger.chain.chain_append after the service has validated the legs. In order:
-- 1. lock the accounts' balance rows in pk order (so concurrent postings cannot deadlock);
-- 2. look the idempotency key up, in a statement after those locks: a racing identical
--    request waited on the same rows and now sees the winner's committed row; if found,
--    return its id (the caller compares request hashes);
-- 3. take the chain lock, read the head, compute the link hash, insert the transaction and
--    its entries (the entry trigger moves the balances; their CHECK refuses an overdraft).
-- The chain lock is transaction-scoped: held from step 3 to COMMIT, with no client round
-- trip inside it. A VOLATILE function takes a fresh snapshot per statement, so steps 2 and
-- 3 see what committed while steps 1 and 3 waited.
--
-- Link hash (ledger/chain.py documents the whole recipe):
--   SHA-256(prev_hash | sequence | occurred_at | posted_at | content_digest)

CREATE OR REPLACE FUNCTION ledger_canonical_time(value timestamptz) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE OR REPLACE FUNCTION ledger_link_hash(prev_hash text, sequence bigint, occurred_at timestamptz,
                                            posted_at timestamptz, content_digest text) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(prev_hash || '|' || sequence::text || '|' || ledger_canonical_time(occurred_at)
                                    || '|' || ledger_canonical_time(posted_at) || '|' || content_digest, 'UTF8')), 'hex')
$$;

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
    -- ('LEDG', 1): must match ledger.chain.CHAIN_LOCK_CLASS / CHAIN_LOCK_ID.
    PERFORM pg_advisory_xact_lock(1279607879, 1);
    SELECT t.sequence, t.hash INTO out_sequence, out_prev_hash
      FROM ledger_journaltransaction t ORDER BY t.sequence DESC LIMIT 1;
    out_sequence := coalesce(out_sequence, 0) + 1;
    out_prev_hash := coalesce(out_prev_hash, repeat('0', 64));
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
