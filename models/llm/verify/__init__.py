"""The verifier: every claim of a summary checked against the alert's facts.

:class:`Verifier` (:mod:`~models.llm.verify.verifier`) reads a text claim kind by claim
kind (:mod:`~models.llm.verify.claims`, :mod:`~models.llm.verify.structure`) against
what the facts support (:mod:`~models.llm.verify.support`), with the enterprise's
naming (:mod:`~models.llm.verify.names`) and the claim words hopwatch knows
(:mod:`~models.llm.verify.lexicon`); :mod:`~models.llm.verify.scan` holds the text
being read and the :class:`Violation` records.
"""

from models.llm.verify.scan import Violation
from models.llm.verify.support import Support, next_steps
from models.llm.verify.verifier import Verification, Verifier, verify

__all__ = ["Support", "Verification", "Verifier", "Violation", "next_steps", "verify"]
