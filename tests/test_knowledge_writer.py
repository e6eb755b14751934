"""graphmner knowledge, end to end with a tiny randomly initialised causal language model (its text is noise;
what is tested is the prompt, the file it writes, the cache, and that predict reads it)."""
import json

import pytest
import torch

from graphmner.cli import main
from graphmner.data.text_evidence import read_text_evidence
from graphmner.knowledge_writer import Demonstration, KnowledgeWriter
from tests.conftest import TINY_DATA


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory, tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-lm")
    config = GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=2048, n_embd=16, n_layer=1, n_head=2,
                        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.cls_token_id,
                        eos_token_id=tokenizer.sep_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


DEMOS = [Demonstration("Bears win in Chicago", "a football game", "Named entities: 1. Bears (team)"),
         Demonstration("Obama visits Berlin today", "a man at a podium", "Named entities: 1. Obama (person)"),
         Demonstration("New iPhone out now", "a phone", "Named entities: 1. iPhone (product)")]


def test_the_prompt_holds_the_most_similar_examples_closest_last(tiny_lm):
    writer = KnowledgeWriter(str(tiny_lm), DEMOS, shots=2, max_new_tokens=4)
    chosen = writer.examples_for("Obama speaks in Berlin")
    assert len(chosen) == 2 and chosen[-1] is DEMOS[1]
    prompt = writer.tokenizer.decode(writer.prompt_ids("Obama speaks in Berlin", "a crowd")[0],
                                     skip_special_tokens=True)
    assert "named entities : 1. obama ( person )" in prompt and prompt.rstrip().endswith("answer :")
    assert "image : a crowd" in prompt
    assert writer.write_one("Obama speaks in Berlin") == writer.write_one("Obama speaks in Berlin")  # greedy


def test_a_chat_model_gets_its_template(tiny_lm):
    writer = KnowledgeWriter(str(tiny_lm), DEMOS, shots=1, max_new_tokens=2)
    writer.tokenizer.chat_template = ("{% for m in messages %}<{{ m.role }}> {{ m.content }} {% endfor %}"
                                      "{% if add_generation_prompt %}<assistant>{% endif %}")
    prompt = writer.tokenizer.decode(writer.prompt_ids("Obama speaks in Berlin", "")[0], skip_special_tokens=True)
    assert prompt.startswith("< system >") and "< assistant > named entities : 1. obama" in prompt
    assert "( no description )" in prompt


def test_knowledge_for_a_file_is_written_once_and_read_by_predict(tiny_lm, tmp_path, capsys, caplog, tiny_labels):
    out = tmp_path / "knowledge.jsonl"
    args = ["knowledge", "--lm", str(tiny_lm), "--input", str(TINY_DATA / "test.txt"), "--captions",
            str(TINY_DATA / "captions_blip2.txt"), "--output", str(out), "--examples-from", str(TINY_DATA),
            "--shots", "1", "--max-new-tokens", "6", "--device", "cpu"]
    assert main(args) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 12 and all(set(e) == {"image_id", "text"} for e in lines)
    assert "knowledge for 12 image(s) written, 0 already there" in capsys.readouterr().out
    assert main(args) == 0  # the file is the cache: nothing is written twice
    assert "knowledge for 0 image(s) written, 12 already there" in capsys.readouterr().out
    assert len(read_text_evidence(out)) == 12 and len(out.read_text().splitlines()) == 12

    from tests.models.test_graphmner import TestGraphMNERTextEvidence

    model = TestGraphMNERTextEvidence().make(tiny_labels)
    model.save_pretrained(tmp_path / "m")
    caplog.set_level("INFO", logger="graphmner.predictor")
    assert main(["predict", "--model-dir", str(tmp_path / "m"), "--input", str(TINY_DATA / "test.txt"),
                 "--knowledge-file", str(out), "--device", "cpu"]) == 0
    assert "12 tweets" in capsys.readouterr().out
    written = sum(bool(e["text"].strip()) for e in lines)  # a random LM may write nothing: that is no knowledge
    assert f"'with_knowledge': {written}," in caplog.text


def test_one_text_prints_json_and_flags_go_with_their_mode(tiny_lm, capsys):
    assert main(["knowledge", "--lm", str(tiny_lm), "--text", "Obama in Berlin", "--examples-from", "none",
                 "--max-new-tokens", "3", "--device", "cpu"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"text"}
    assert main(["knowledge", "--lm", str(tiny_lm), "--text", "x", "--output", "k.jsonl"]) == 2
    assert "--output goes with --input" in capsys.readouterr().err
    assert main(["knowledge", "--lm", str(tiny_lm / "gone"), "--text", "x", "--examples-from", "none"]) == 2
    assert capsys.readouterr().err.strip().endswith("gone: no such folder (a local model folder, or a Hugging Face "
                                                    "name)")


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_predict_without_knowledge_says_whether_the_model_learned_to_tag_without_it(dropout, tmp_path, capsys,
                                                                                    caplog, tiny_labels):
    from tests.models.test_graphmner import TestGraphMNERTextEvidence

    t = TestGraphMNERTextEvidence()
    t.model_changes = {**t.model_changes, "text_evidence_dropout": dropout}
    t.make(tiny_labels).save_pretrained(tmp_path / "m")
    caplog.set_level("INFO", logger="graphmner.predictor")
    assert main(["predict", "--model-dir", str(tmp_path / "m"), "--input", str(TINY_DATA / "test.txt"),
                 "--device", "cpu"]) == 0
    assert "12 tweets" in capsys.readouterr().out
    assert "12 of 12 tweets have no knowledge: tagged without it" in caplog.text
    assert ("learned to rely on knowledge" in caplog.text) == (dropout == 0)
