"""Text analysis shared by ingest, retrieve, generate and ground: one sentence splitter whose
spans are exact slices of the text, so chunks, quotes and citations agree on sentence ends."""

from tether.text.sentences import SentenceSpan, split_sentences, split_words

__all__ = ["SentenceSpan", "split_sentences", "split_words"]
