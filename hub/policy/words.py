"""Phrases for the policy layer: `hub.vocab.words`, re-exported (the policy's reasons are phrases)."""

from hub.vocab.words import N_, Phrase, say

__all__ = ["N_", "Phrase", "say"]
