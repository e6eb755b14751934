from graphmner.data.tokenize import tokenize_tweet


def test_tweet_tokens_like_the_corpus():
    assert tokenize_tweet("RT @JayKenMinaj: #NBA finals, Kawhi's night!") == [
        "RT", "@JayKenMinaj", ":", "#", "NBA", "finals", ",", "Kawhi's", "night", "!"]
    assert tokenize_tweet("   ") == []
