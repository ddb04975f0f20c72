"""Runs: a configuration (TOML, recipes) trained into a run folder, with its reports and plots."""
