"""A real ONNX cross-encoder small enough to build in a test: its logit for (query, passage) is
how many passage tokens also occur in the query, so it ranks like a (crude) relevance model."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path


def build_overlap_cross_encoder(folder: Path) -> Path:
    """Write ``model.onnx`` and the bundled MiniLM ``tokenizer.json`` into ``folder``."""
    import onnx
    from onnx import TensorProto, helper

    def axes(name: str, *values: int):
        return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))

    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["b", "s"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", 1])
    node = helper.make_node
    nodes = [
        node("Sub", ["one", "token_type_ids"], ["query_side"]),
        node("Mul", ["attention_mask", "query_side"], ["q"]),  # query tokens (with [CLS], [SEP])
        node("Mul", ["attention_mask", "token_type_ids"], ["p"]),  # passage tokens
        node("Unsqueeze", ["input_ids", "ax2"], ["ids_rows"]),
        node("Unsqueeze", ["input_ids", "ax1"], ["ids_cols"]),
        node("Equal", ["ids_rows", "ids_cols"], ["same"]),  # (b, s, s): token i == token j
        node("Cast", ["same"], ["same_f"], to=TensorProto.FLOAT),
        node("Unsqueeze", ["p", "ax2"], ["p3"]),
        node("Cast", ["p3"], ["p3f"], to=TensorProto.FLOAT),
        node("Unsqueeze", ["q", "ax1"], ["q3"]),
        node("Cast", ["q3"], ["q3f"], to=TensorProto.FLOAT),
        node("Mul", ["same_f", "p3f"], ["m1"]),
        node("Mul", ["m1", "q3f"], ["m2"]),  # passage token i equals query token j
        node("ReduceMax", ["m2", "ax2"], ["hit"], keepdims=0),  # (b, s)
        node("ReduceSum", ["hit", "ax1"], ["logits"], keepdims=1),  # (b, 1)
    ]
    init = [axes("ax1", 1), axes("ax2", 2), helper.make_tensor("one", TensorProto.INT64, [], [1])]
    graph = helper.make_graph(nodes, "overlap_cross_encoder", inputs, [out], initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    tok = resources.files("tether.embed").joinpath("assets/minilm-tokenizer.json")
    shutil.copyfile(str(tok), folder / "tokenizer.json")
    return folder
