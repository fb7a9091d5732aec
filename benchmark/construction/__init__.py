"""The construction protocol every method runs under: the loop and its rounds, the loop's own
copies of every item, the upstream models behind the harness's back, the same readings of D for
every method, the committee of model-assisted methods and the acquisition functions. The
contract a method writes against is ``benchmark.method``; the methods are in ``methods/``.
"""
