"""Training and exporting the models Tether makes itself (first: the verifier).

Nothing here is imported on the default path: ``tether tune`` imports these modules lazily, and
only :mod:`tether.tune.model`, :mod:`tether.tune.train` and :mod:`tether.tune.export` need torch
(the optional ``train`` extra). Data preparation (:mod:`sources`, :mod:`examples`) and the
held-out evaluation (:mod:`evaluate`) run on numpy and the shipped runtime alone.
"""
