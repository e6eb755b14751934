from graphmner.data.tokenize import tokenize_tweet


def test_tweet_tokens_like_the_corpus():
    assert tokenize_tweet("RT @JayKenMinaj: #NBA finals, Kawhi's night!") == [
        "RT", "@JayKenMinaj", ":", "#", "NBA", "finals", ",", "Kawhi's", "night", "!"]
    assert tokenize_tweet("   ") == []


def test_word_shapes():
    from graphmner.data.tokenize import WORD_SHAPES, word_shape

    shapes = {t: WORD_SHAPES[word_shape(t)] for t in ["Chicago", "NBA", "win", "#", "#NBA", "@kawhi", "2017", "3-1",
                                                      "http://t.co/x", "!", "I", "iPhone", "McDonald's", "É"]}
    assert shapes == {"Chicago": "capitalised", "NBA": "all caps", "win": "lower", "#": "hashtag", "#NBA": "hashtag",
                      "@kawhi": "mention", "2017": "digits", "3-1": "digits", "http://t.co/x": "url", "!": "other",
                      "I": "capitalised", "iPhone": "other", "McDonald's": "capitalised", "É": "capitalised"}
