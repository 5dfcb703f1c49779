"""Analytics: how fast the government's services decide, measured from the chain.

Cases (a licence application, a land transfer request) are timed from the block that
opened them to the block that decided them, so every replica and auditor gets the same
figures; ledger refusals, which never reach the chain, are tallied from stream REJECTED.

API (subjects in ``govchain.bus.subjects``): ``ANALYTICS_SUMMARY`` takes
``{"min_height": int | null}`` and answers the summary (metrics, before/after, throughput,
refusals, ``as_of_height``); ``ANALYTICS_CHART`` takes
``{"name": "processing|throughput|rejections|comparison"}`` and answers ``{"png_base64": ...}``.
"""
