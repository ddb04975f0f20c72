"""Training: the `Trainer` (batches, the optimizer step, callbacks, evaluation, resumable state), its
callbacks, and the checks on user data. Works on any model with the interface `TrainableModel` names."""
