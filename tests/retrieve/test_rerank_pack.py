"""Rerankers (default features, HTTP /rerank in TEI and Cohere shapes), MMR, fusion, packing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tether.errors import ProviderError
from tether.retrieve.fusion import fuse_scores, rrf
from tether.retrieve.pack import dedupe, pack
from tether.retrieve.rerank import FeatureReranker, HttpReranker, mmr
from tether.types import Passage


def P(cid: int, text: str = "x", doc: int = 1, start: int = 0, end: int = 10, **scores: float) -> Passage:
    return Passage(chunk_id=cid, document_id=doc, ordinal=cid, text=text, char_start=start, char_end=end,
                   scores=dict(scores))


def test_rrf_and_score_fusion_by_hand():
    runs = {"bm25": [(1, 9.0), (2, 3.0), (3, 2.9)], "dense": [(3, 0.9), (1, 0.5), (4, 0.4)]}
    fused = dict(rrf(runs, k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62) and fused[4] == pytest.approx(1 / 63)
    # z-score: bm25's standout top hit keeps its lead
    top = [d for d, _ in fuse_scores(runs, method="zscore")]
    assert top[0] == 1
    mm = dict(fuse_scores(runs, method="minmax"))
    assert mm[1] == pytest.approx(1.0 + 0.2) and mm[4] == pytest.approx(0.0 + 0.0)


def test_feature_reranker_prefers_the_passage_covering_the_query():
    ps = [P(1, "office locations and opening hours", bm25=5.0, dense=0.40),
          P(2, "annual leave days carry over rules", bm25=4.0, dense=0.70),
          P(3, "unrelated text", bm25=1.0, dense=0.10)]
    out = FeatureReranker().rerank("annual leave carry over", ps, top_n=3)
    assert [p.chunk_id for p in out] == [2, 1, 3]
    assert out[0].scores["rerank"] >= out[1].scores["rerank"]


class _Rerank(BaseHTTPRequestHandler):
    shape = "cohere"

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        docs = body["documents"]
        scores = [float(len(set(d.split()) & set(body["query"].split()))) for d in docs]
        if self.shape == "tei":
            out = [{"index": i, "score": s} for i, s in enumerate(scores)]
        elif self.shape == "broken":
            out = {"unexpected": True}
        else:
            out = {"results": [{"index": i, "relevance_score": s} for i, s in enumerate(scores)]}
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.mark.parametrize("shape", ["cohere", "tei"])
def test_http_reranker_speaks_both_shapes(shape):
    handler = type("H", (_Rerank,), {"shape": shape})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        rr = HttpReranker(f"http://127.0.0.1:{srv.server_port}/rerank")
        ps = [P(1, "nothing here"), P(2, "annual leave policy"), P(3, "leave")]
        out = rr.rerank("annual leave", ps, top_n=3)
        assert [p.chunk_id for p in out] == [2, 3, 1]
    finally:
        srv.shutdown()


def test_http_reranker_garbage_is_a_provider_error():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Rerank,), {"shape": "broken"}))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ProviderError):
            HttpReranker(f"http://127.0.0.1:{srv.server_port}/rerank").rerank("q", [P(1), P(2)], top_n=2)
    finally:
        srv.shutdown()


def test_mmr_skips_near_duplicates():
    v = np.array([[1, 0, 0], [0.99, 0.14, 0], [0, 1, 0]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = np.array([0.8, 0.6, 0], dtype=np.float32)
    out = mmr([P(1), P(2), P(3)], v, q / np.linalg.norm(q), lam=0.5, k=2)
    assert [p.chunk_id for p in out[:2]] == [2, 3]  # 1 is a near-duplicate of 2


def test_packing_dedupes_overlaps_and_fits_the_budget():
    ps = [P(1, "a " * 50, doc=1, start=0, end=100), P(2, "b " * 50, doc=1, start=20, end=110),
          P(3, "c " * 50, doc=2, start=0, end=100), P(4, "d " * 400, doc=3, start=0, end=800)]
    kept, dropped = dedupe(ps)
    assert [p.chunk_id for p in kept] == [1, 3, 4] and dropped == [{"chunk_id": 2, "reason": "duplicate_span"}]
    packed = pack(ps, count_tokens=lambda t: len(t.split()), budget_tokens=200, max_passages=5)
    assert [p.chunk_id for p in packed.passages] == [1, 3]
    assert {"chunk_id": 4, "reason": "token_budget"} in packed.dropped
    assert packed.tokens <= 200
    packed = pack(ps, count_tokens=lambda t: len(t.split()), budget_tokens=10_000, max_passages=1)
    assert [d["reason"] for d in packed.dropped if d["chunk_id"] == 3] == ["max_passages"]


def _tiny_cross_encoder(folder) -> None:
    """A real ONNX graph with a cross-encoder's inputs and output; its logit is the number of
    passage-side tokens (token_type 1), so longer passages score higher."""
    import shutil
    from importlib import resources

    import onnx
    from onnx import TensorProto, helper

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "s"])
    tt = helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["b", "s"])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 1])
    nodes = [
        helper.make_node("Mul", ["attention_mask", "token_type_ids"], ["m"]),
        helper.make_node("Cast", ["m"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["mf", "axes"], ["logits"], keepdims=1),
    ]
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(nodes, "tiny", [ids, mask, tt], [out], initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "model.onnx"))
    src = resources.files("tether.embed").joinpath("assets/minilm-tokenizer.json")
    shutil.copyfile(str(src), folder / "tokenizer.json")


def test_cross_encoder_from_a_local_folder(tmp_path):
    from tether.errors import ConfigError
    from tether.retrieve.rerank import CrossEncoderReranker

    with pytest.raises(ConfigError, match="model.onnx"):
        CrossEncoderReranker(str(tmp_path))
    _tiny_cross_encoder(tmp_path)
    rr = CrossEncoderReranker(str(tmp_path))
    ps = [P(1, "short"), P(2, "a much longer passage with many more words in it"), P(3, "medium length text")]
    out = rr.rerank("query", ps, top_n=3)
    assert [p.chunk_id for p in out] == [2, 3, 1]
    assert out[0].scores["rerank"] > out[1].scores["rerank"] > out[2].scores["rerank"]
