"""JSON-LD contexts GovChain publishes (package data; see :mod:`govchain.protocol.credentials`)."""
