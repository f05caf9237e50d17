"""What the service's database role may do to each table: the one list (DESIGN.md non-negotiable 7).

The service (web, worker, beat) connects as a role that owns nothing; migrations run as the
owner and, after every `migrate`, config/database_roles.py re-applies exactly these grants
(revoking everything else). tests/test_database_privileges.py fails when a table of the
database is missing here, so a new table never silently gets more than it should.

- READ_APPEND: the books and the trails. Rows are only ever added (the tables' own triggers
  refuse UPDATE/DELETE even to the owner); these tables also get a BEFORE TRUNCATE guard.
- READ_WRITE_KEEP: records that change state but are never deleted.
- READ_ONLY: derived values written only by the owner's functions (ledger/sql/0007_ledger_owned_derivations.sql).
- READ_WRITE: operational tables of the framework and the reserve.
"""

from __future__ import annotations

READ_APPEND = ("SELECT", "INSERT")
READ_WRITE_KEEP = ("SELECT", "INSERT", "UPDATE")
READ_ONLY = ("SELECT",)
READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
# A queue whose entries leave only under their table's trigger's condition (the log's pending list).
READ_QUEUE = ("SELECT", "INSERT", "DELETE")

TABLE_PRIVILEGES: dict[str, tuple[str, ...]] = {
    # the books
    "ledger_journaltransaction": READ_APPEND,
    "ledger_entry": READ_APPEND,
    "ledger_account": READ_WRITE_KEEP,
    # the row lock of a posting needs UPDATE on one column (COLUMN_PRIVILEGES); nothing else
    "ledger_accountbalance": READ_ONLY,
    "ledger_balancecheckpoint": READ_ONLY,
    "ledger_checkpointcursor": READ_ONLY,
    "ledger_pendingtransaction": READ_WRITE_KEEP,
    "ledger_pendingentry": READ_APPEND,
    # the transparency log (ledger/sql/0008_ledger_transparency_log.sql)
    "ledger_logleaf": READ_APPEND,
    "ledger_lognode": READ_APPEND,
    "ledger_signedtreehead": READ_APPEND,
    "ledger_logpending": READ_QUEUE,
    # policy
    "policy_policyevaluation": READ_APPEND,
    "policy_policyversionapproval": READ_APPEND,
    "policy_policyversion": READ_WRITE_KEEP,
    "policy_policybreach": READ_WRITE_KEEP,
    "policy_policy": READ_WRITE,
    "policy_category": READ_WRITE_KEEP,
    "policy_categoryapproval": READ_APPEND,
    # reserve: approvals, import rows and the audit trail are append-only
    "reserve_approval": READ_APPEND,
    "reserve_auditevent": READ_APPEND,
    "reserve_importapproval": READ_APPEND,
    "reserve_importrow": READ_APPEND,
    # proposals that are decided once (their triggers keep the decided ones as they are)
    "reserve_importbatch": READ_WRITE_KEEP,
    # signing (issue 13): uploads are the trail of what custodians sent; holds are released, never deleted
    "reserve_signatureupload": READ_APPEND,
    # fiat totals for fiat-denominated caps (issue 15): dated facts, corrected by a new record
    "reserve_fiattotal": READ_APPEND,
    # pledges and liabilities (issue 15): approved once, released once, never deleted
    "reserve_pledge": READ_WRITE_KEEP,
    # lots and what postings took of them (issue 15): kept as written (reserve/sql/0085_lots.sql)
    "reserve_lot": READ_APPEND,
    "reserve_lotconsumption": READ_APPEND,
    "reserve_builtpsbt": READ_WRITE_KEEP,
    "reserve_utxoreservation": READ_WRITE_KEEP,
    "reserve_utxofreeze": READ_WRITE_KEEP,
    "reserve_walletmembership": READ_WRITE_KEEP,
    # involuntary marks: proposed, then decided once (reserve/sql/0120_involuntary_mark_approval.sql)
    "reserve_involuntarymark": READ_WRITE_KEEP,
    # period attestations (issue 16): signed statements given out, kept as made
    "reserve_periodattestation": READ_APPEND,
    "reserve_enrolmentcode": READ_WRITE_KEEP,
    "reserve_agency": READ_WRITE,
    "reserve_apiidempotencykey": READ_WRITE,
    "reserve_chainblock": READ_WRITE,
    "reserve_counterparty": READ_WRITE,
    "reserve_discrepancy": READ_WRITE,
    "reserve_outboxmessage": READ_WRITE,
    "reserve_pricequote": READ_WRITE,
    "reserve_reconciliationrun": READ_WRITE_KEEP,
    "reserve_reserveproof": READ_WRITE,
    "reserve_reserveproofchallenge": READ_WRITE,
    "reserve_scancursor": READ_WRITE,
    "reserve_transfer": READ_WRITE,
    "reserve_wallet": READ_WRITE,
    "reserve_walletdescriptor": READ_WRITE,
    "reserve_walletlabel": READ_WRITE_KEEP,  # an import updates a label, never deletes one
    "reserve_walletutxo": READ_WRITE,
    "reserve_watchedscript": READ_WRITE,
    # framework
    "django_migrations": READ_ONLY,
    "django_content_type": READ_WRITE,
    "django_session": READ_WRITE,
    "django_admin_log": READ_WRITE,
    "auth_group": READ_WRITE,
    "auth_group_permissions": READ_WRITE,
    "auth_permission": READ_WRITE,
    "auth_user": READ_WRITE,
    "auth_user_groups": READ_WRITE,
    "auth_user_user_permissions": READ_WRITE,
    "axes_accessattempt": READ_WRITE,
    "axes_accessattemptexpiration": READ_WRITE,
    "axes_accessfailurelog": READ_WRITE,
    "axes_accesslog": READ_WRITE,
    "knox_authtoken": READ_WRITE,
    "otp_totp_totpdevice": READ_WRITE,
}

# Column grants on top of the table's: (privilege, columns). `SELECT ... FOR UPDATE` needs
# UPDATE on some column; updated_at is the one whose change is harmless.
COLUMN_PRIVILEGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ledger_accountbalance": ("UPDATE", ("updated_at",)),
}


def append_only_tables() -> list[str]:
    """The tables whose rows are only ever added: no UPDATE, DELETE or TRUNCATE for the service."""
    return sorted(table for table, privileges in TABLE_PRIVILEGES.items() if privileges == READ_APPEND)
