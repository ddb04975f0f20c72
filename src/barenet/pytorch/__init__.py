"""PyTorch integration: the one mapping table, parity twins and `compare`, state-dict files.

torch is imported only inside functions (the `torch` extra), so `import barenet` never needs it;
the state-dict files need only safetensors.
"""
