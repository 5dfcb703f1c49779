"""GovChain shared kernel: the protocol (domain) and the plumbing every service uses."""

__version__ = "0.1.0"
