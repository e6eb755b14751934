from tests.models.base_model_test import BaseModelTest


class TestCaptionConcat(BaseModelTest):
    model_name = "caption_concat"

    def test_caption_is_the_second_segment(self, tiny_data, tiny_labels, tokenizer):
        model = self.make(tiny_labels)
        ex = self.examples(model, tiny_data, "train", 1)[0]
        row, types = ex.rows[0], ex.token_types[0]
        sep = tokenizer.sep_token_id
        first_sep = row.index(sep)
        assert types[:first_sep + 1] == [0] * (first_sep + 1) and set(types[first_sep + 1:]) == {1}
        caption = tiny_data.caption_file.read_text().splitlines()
        caption = next(line.split(":", 1)[1] for line in caption if line.startswith(ex.tweet.image_id + ".jpg"))
        assert tokenizer.decode(row[first_sep + 1:-1]) == caption.strip().lower()
        batch = model.featurizer().collate([ex])
        assert batch.token_type_ids is not None and batch.token_type_ids.shape == batch.input_ids.shape


class TestKnowledgeConcat(BaseModelTest):
    """PGIM's own method: ``[CLS] tweet [SEP] knowledge [SEP]``."""

    model_name = "caption_concat"
    model_changes = {"evidence": ["knowledge"], "max_length": 128}

    def test_knowledge_fills_what_the_tweet_leaves_of_the_row(self, tiny_data, tiny_labels, tokenizer):
        model = self.make(tiny_labels)
        examples = self.examples(model, tiny_data, "train")
        rows = [row for ex in examples[:-1] for row in ex.rows]
        sep = tokenizer.sep_token_id
        assert all(tokenizer.decode(r[r.index(sep) + 1:r.index(sep) + 3]) == "named entities" for r in rows)
        # long knowledge is not cut at half a row: it runs to max_length
        assert any(len(r) == 128 and len(r) - r.index(sep) > 64 for r in rows)
        assert max(len(r) for r in rows) <= 128
        assert examples[-1].token_types is None  # the last tweet has no knowledge: bert_crf's rows
