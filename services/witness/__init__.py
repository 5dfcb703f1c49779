"""The witness service: a department or third party (court, audit office) runs it with its own
key to cosign GovChain checkpoints that are consistent with all it cosigned before
(c2sp.org/tlog-witness). The decision is :mod:`govchain.transparency.witness`; this package adds
its durable state, its folder (key and name) and its HTTP interface."""
