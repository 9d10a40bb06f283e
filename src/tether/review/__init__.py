"""The human hand-off: review items become reviewed answers, and reviewed answers golden cases.

``service.ReviewService`` is what the API, the UI and the CLI call (who may see and work which
item is decided there); its SQL lives in ``store/reviews.py`` and ``store/feedback.py``;
``promote`` turns an answered item into a case of a golden set that ``tether eval run`` reads.
"""
