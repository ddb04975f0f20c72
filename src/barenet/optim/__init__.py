"""Optimisation: update rules (`optimizers`) and learning-rate schedules (`schedules`). Knows nothing of layers."""
