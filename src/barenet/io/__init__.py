"""Files: atomic writes, output-path guards, safetensors reading and writing. Knows nothing of networks."""
