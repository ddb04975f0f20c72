"""Programs built on training runs: `grid` (a local grid search in parallel processes)."""
