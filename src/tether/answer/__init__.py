"""The one answer pipeline (ask, stream, the OpenAI-compatible endpoint and evaluation share it)
and the response shapes: :class:`AskResult` and the stream events live in ``answer/respond.py``."""

from tether.answer.respond import AskResult
from tether.answer.run import AnswerPipeline, Run, Services

__all__ = ["AnswerPipeline", "AskResult", "Run", "Services"]
