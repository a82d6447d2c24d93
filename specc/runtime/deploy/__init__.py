"""Export, benchmarks and latency (imports torch)."""
