"""turnscope: evaluate language models turn by turn in multi-turn conversations."""

__version__ = "0.1.0"
