"""The human hand-off: review items become reviewed answers, and reviewed answers golden cases.

The queue itself lives in ``store/reviews.py`` (and feedback in ``store/feedback.py``);
``promote`` turns an answered item into a case of a golden set that ``tether eval run`` reads.
"""
