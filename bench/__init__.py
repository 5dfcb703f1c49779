"""GovChain benchmarks: ``python -m bench.run`` (``make bench``); see bench/RESULTS.md."""
