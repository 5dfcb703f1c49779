"""The contract engine: deterministic contracts deployed on chain, evaluated from blocks."""

from pathlib import Path

BUILTIN_CONTRACTS = {path.stem: path for path in (Path(__file__).parent / "definitions").glob("*.json")}
"""The contracts GovChain ships: business-license, land-transfer and data-sharing."""
