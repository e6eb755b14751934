"""Registered taggers; ``--model NAME`` picks one."""
from graphmner.models.base import MODELS, Tagger, TaggerConfig, TaggerOutput, get_model_class, register
from graphmner.models.bert_crf import BertCRF
from graphmner.models.caption_concat import CaptionConcat
from graphmner.models.graphmner import GraphMNER
from graphmner.models.mm_concat import MMConcat
from graphmner.models.umgf import UMGF
from graphmner.models.umt import UMT

__all__ = ["MODELS", "Tagger", "TaggerConfig", "TaggerOutput", "get_model_class", "register", "BertCRF",
           "CaptionConcat", "GraphMNER", "MMConcat", "UMGF", "UMT"]
