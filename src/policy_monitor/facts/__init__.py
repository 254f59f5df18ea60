"""Retention and training statements of a policy page, as facts with the page's own sentences.

>>> from policy_monitor.facts import extract
>>> extract("We keep API inputs and outputs for up to 30 days.").summary.retention
'P30D'
"""

from __future__ import annotations

from .extract import extract, extract_consumer
from .model import Extraction, Fact, Summary

# raised whenever the facts read from some text can change; docs/accuracy.md says what each version changed
EXTRACTOR_VERSION = "3"

__all__ = ["EXTRACTOR_VERSION", "Extraction", "Fact", "Summary", "extract", "extract_consumer"]
