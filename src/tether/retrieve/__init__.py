"""Retrieval: BM25 and dense search inside the permission filter, fusion, rerank, packing."""
