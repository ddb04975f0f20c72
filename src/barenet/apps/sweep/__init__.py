"""`barenet sweep`: hyperparameter search on Optuna, from one laptop (SQLite) to many machines (PostgreSQL).

    params   --param KEY=SPEC: ranges and choices, checked by the config schema
    plan     the sweep as plain data (base config, space, storage, sampler, pruner), checked up front
    storage  the study's database and the lock that makes concurrent workers safe
    workers  processes that take trials until the study has enough
    trial    one trial: an ordinary run that reports validation accuracy per epoch
    results  tables, the best configuration as TOML;  plots  history, importance, accuracy per parameter
    engine   Optuna (imported lazily: the `sweep` extra), samplers and pruners
"""
