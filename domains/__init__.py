"""Benchmark domains; each module registers one or more domain sources (see README.md here)."""
