"""Models: `Sequential` and `MLP` (the network plus Keras's compile/fit/evaluate/predict), and model files."""
