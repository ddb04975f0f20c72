"""Network parts, each backward pass written beside its forward: layers, losses, initializers, functions.

Pure maths on `xp` arrays; knows nothing of training loops, files or datasets.
"""
