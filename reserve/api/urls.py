"""Routes of /api/v1/."""

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from reserve.api import (
    attestations,
    audit,
    auth,
    base,
    custody,
    fiat_totals,
    holdings,
    imports,
    involuntary,
    labels,
    ledger,
    log,
    lots,
    pledges,
    policy,
    proofs,
    reconciliation,
    signing,
    transfers,
)

app_name = "api"

router = SimpleRouter()
router.register("agencies", custody.AgencyViewSet, basename="agency")
router.register("wallets", custody.WalletViewSet, basename="wallet")
router.register("transfers", transfers.TransferViewSet, basename="transfer")
router.register("ledger/transactions", ledger.JournalTransactionViewSet, basename="ledger-transaction")
router.register("ledger/accounts", ledger.AccountViewSet, basename="ledger-account")
router.register("policies", policy.PolicyVersionViewSet, basename="policy")
router.register("policy-evaluations", policy.PolicyEvaluationViewSet, basename="policy-evaluation")
router.register("breaches", policy.BreachViewSet, basename="breach")
router.register("categories", policy.CategoryViewSet, basename="category")
router.register("reconciliations", reconciliation.ReconciliationRunViewSet, basename="reconciliation")
router.register("discrepancies", reconciliation.DiscrepancyViewSet, basename="discrepancy")
router.register("imports", imports.ImportBatchViewSet, basename="import-batch")
router.register("lots", lots.LotViewSet, basename="lot")
router.register("fiat-totals", fiat_totals.FiatTotalViewSet, basename="fiat-total")
router.register("pledges", pledges.PledgeViewSet, basename="pledge")
router.register("involuntary-marks", involuntary.InvoluntaryMarkViewSet, basename="involuntary-mark")
router.register("audit-events", audit.AuditEventViewSet, basename="audit-event")
router.register("reserve-proofs", proofs.ReserveProofViewSet, basename="reserve-proof")
router.register("period-attestations", attestations.PeriodAttestationViewSet, basename="period-attestation")

urlpatterns = [
    path("auth/token/", auth.TokenCreateApi.as_view(), name="token"),
    path("auth/logout/", auth.TokenRevokeApi.as_view(), name="logout"),
    path("holdings/", holdings.HoldingsApi.as_view(), name="holdings"),
    path("transfers/<int:pk>/approve/", transfers.TransferApproveApi.as_view(), name="transfer-approve"),
    path("transfers/<int:pk>/reject/", transfers.TransferRejectApi.as_view(), name="transfer-reject"),
    path("transfers/<int:pk>/cancel/", transfers.TransferCancelApi.as_view(), name="transfer-cancel"),
    path(
        "transfers/<int:pk>/mark-involuntary/",
        involuntary.TransferMarkInvoluntaryApi.as_view(),
        name="transfer-mark-involuntary",
    ),
    path(
        "involuntary-marks/<int:pk>/approve/",
        involuntary.InvoluntaryMarkApproveApi.as_view(),
        name="involuntary-mark-approve",
    ),
    path(
        "involuntary-marks/<int:pk>/reject/",
        involuntary.InvoluntaryMarkRejectApi.as_view(),
        name="involuntary-mark-reject",
    ),
    path("transfers/<int:pk>/psbt/", signing.TransferPsbtApi.as_view(), name="transfer-psbt"),
    path("transfers/<int:pk>/psbt/signatures/", signing.TransferPsbtSignaturesApi.as_view(), name="transfer-psbt-sign"),
    path("transfers/<int:pk>/broadcast/", signing.TransferBroadcastApi.as_view(), name="transfer-broadcast"),
    path("imports/postings/", imports.PostingsBatchApi.as_view(), name="import-postings"),
    path("imports/<int:pk>/approve/", imports.ImportApproveApi.as_view(), name="import-approve"),
    path("imports/<int:pk>/reject/", imports.ImportRejectApi.as_view(), name="import-reject"),
    path("ledger/verify/", ledger.LedgerVerifyApi.as_view(), name="ledger-verify"),
    path("log/heads/latest/", log.LogHeadLatestApi.as_view(), name="log-head-latest"),
    path("log/heads/<int:tree_size>/", log.LogHeadAtApi.as_view(), name="log-head"),
    path("log/inclusion/<uuid:transaction_id>/", log.LogInclusionApi.as_view(), name="log-inclusion"),
    path("log/consistency/", log.LogConsistencyApi.as_view(), name="log-consistency"),
    path("log/public-key/", log.LogPublicKeyApi.as_view(), name="log-public-key"),
    path("policies/evaluate/", policy.PolicyEvaluateApi.as_view(), name="policy-evaluate"),
    path("policies/<int:pk>/approve/", policy.PolicyApproveApi.as_view(), name="policy-approve"),
    path("compliance/", policy.ComplianceApi.as_view(), name="compliance"),
    path("pledges/<int:pk>/approve/", pledges.PledgeApproveApi.as_view(), name="pledge-approve"),
    path("pledges/<int:pk>/release/", pledges.PledgeReleaseApi.as_view(), name="pledge-release"),
    path("labels/", labels.LabelsApi.as_view(), name="labels"),
    path("reserve-proofs/challenges/", proofs.ChallengeIssueApi.as_view(), name="reserve-proof-challenge"),
    path("reserve-proofs/challenges/<uuid:pk>/psbt/", proofs.WalletProofPsbtApi.as_view(), name="reserve-proof-psbt"),
    path("", include(router.urls)),
    # Anything else under /api/v1/ is a 404 in the API's error shape, not Django's HTML page.
    re_path(r"^.*$", base.UnknownEndpointApi.as_view(), name="unknown"),
]
