"""Pure SLA-service rules around the shared core: dedup, gaps, timers, watermark, outputs."""
