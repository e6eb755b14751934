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
