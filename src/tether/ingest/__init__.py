"""Ingestion: turn uploaded files into structured text (``loaders``) and then into chunks with
exact character offsets (``chunker``), ready for scanning, embedding and storage."""
