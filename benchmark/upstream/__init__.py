"""The models learnt once per domain, before any method runs: the foundation encoders, the
latent patterns found in their embeddings (and how well they find the true ones) and the
conditional diffusion generators.
"""
