"""Analytics: how fast the government's services decide, measured from the chain.

Cases (a licence application, a land transfer request) are timed from the block that
opened them to the block that decided them, so every replica and auditor gets the same
figures; ledger refusals, which never reach the chain, are tallied from stream REJECTED.
"""

ANALYTICS_SUMMARY = "gov.analytics.summary"
"""Request/reply: ``{"min_height": int | null}`` → the summary (metrics, comparison, throughput, refusals)."""
ANALYTICS_CHART = "gov.analytics.chart"
"""Request/reply: ``{"name": "processing|throughput|rejections|comparison"}`` → ``{"png_base64": ...}``."""
