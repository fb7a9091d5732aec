"""What a constructed dataset is worth: the fixed downstream recipe, its scores on the held-out
splits, the metrics, model-side mitigation and the report (CIs, paired differences, cost saved).
"""
