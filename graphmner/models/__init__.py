"""Registered taggers; ``--model NAME`` picks one."""
from graphmner.models.base import MODELS, Tagger, TaggerConfig, TaggerOutput, get_model_class, register
from graphmner.models.bert_crf import BertCRF

__all__ = ["MODELS", "Tagger", "TaggerConfig", "TaggerOutput", "get_model_class", "register", "BertCRF"]
