"""Retention and training statements of a policy page, as facts with the page's own sentences.

>>> from policy_monitor.facts import extract
>>> extract("We keep API inputs and outputs for up to 30 days.").summary.retention
'P30D'
"""

from __future__ import annotations

from .extract import extract, extract_consumer
from .model import Extraction, Fact, Summary

# raised whenever the facts read from a text can change (3: "you can delete a chat, which is erased within
# N days" is a deletion the user asks for, not how long content is kept; a period for flagged content inside
# an exception to the default, or after ", or", is the flagged-content period; "API data", "your requests"
# and "content is flagged" name the customer's content; "used as training data" is about training;
# "only in memory for the duration of the request" is zero retention; "we do not offer zero data retention"
# and "ZDR is unavailable" offer none)
EXTRACTOR_VERSION = "3"

__all__ = ["EXTRACTOR_VERSION", "Extraction", "Fact", "Summary", "extract", "extract_consumer"]
