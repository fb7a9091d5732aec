"""Construction methods, one module each: the method under study (adaptive) and the baselines."""
