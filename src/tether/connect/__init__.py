"""Connectors: Tether stays in step with where documents live (folders, S3, websites, git, IMAP, push).

``base`` is the protocol a connector implements, ``registry`` the kinds, ``sync`` the engine
that drives any connector through the ingest pipeline; one module per source. See
docs/connectors.md.
"""
