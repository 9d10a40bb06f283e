"""Generators: numbered sources in, an answer with ``[n]`` citations out."""

from tether.generate.base import Capabilities, GenerationRequest, Generator, GeneratorBase
from tether.generate.extractive import ExtractiveConfig, ExtractiveGenerator
from tether.generate.openai_compat import OpenAICompatConfig, OpenAICompatGenerator
from tether.generate.prompting import PROMPT_VERSION, render_messages

__all__ = [
    "PROMPT_VERSION",
    "Capabilities",
    "ExtractiveConfig",
    "ExtractiveGenerator",
    "GenerationRequest",
    "Generator",
    "GeneratorBase",
    "OpenAICompatConfig",
    "OpenAICompatGenerator",
    "render_messages",
]
