"""graphmner: multimodal named entity recognition on tweets with graph fusion."""
__version__ = "0.1.0"
