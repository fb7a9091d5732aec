"""Reference construction methods; each module registers one method."""
