import numpy as np
import pytest

from compositions.highlights import topics
from compositions.highlights.topics import embed_sentences, embedder_name, topic_boundaries, topic_of_sentences

COFFEE = [
    "Coffee beans are the roasted seeds of a cherry that grows on shrubs in the tropics.",
    "Most of the world's coffee comes from Brazil, Vietnam and Colombia.",
    "A light roast keeps more of the bean's acidity and fruity flavour.",
    "Dark roasts taste bitter and smoky because the sugars caramelise and burn.",
    "Espresso is brewed by forcing hot water through finely ground coffee under pressure.",
    "A good barista grinds the beans just before brewing so the aroma stays fresh.",
    "Many people cannot start their morning without a cup of coffee and its caffeine.",
]
BICYCLES = [
    "A bicycle is powered by pedals that turn a chain connected to the rear wheel.",
    "Gears let a cyclist climb steep hills without pedalling too hard.",
    "Road bikes have thin tyres and light frames made of carbon or aluminium.",
    "Mountain bikes use suspension forks to absorb bumps on rough trails.",
    "Cities are building protected bike lanes so commuters can ride safely to work.",
    "Always wear a helmet and check your brakes before a long ride.",
    "The Tour de France is the most famous bicycle race in the world.",
]
OCEAN = [
    "The ocean covers more than seventy percent of the surface of our planet.",
    "Deep below the waves, the water is cold, dark and under enormous pressure.",
    "Whales, dolphins and sharks travel thousands of kilometres across the sea.",
    "Coral reefs are home to a quarter of all marine species.",
    "Tides rise and fall twice a day because of the pull of the moon.",
    "Rising sea temperatures are bleaching reefs and melting polar ice.",
    "Sailors once crossed the open sea using only the stars to navigate.",
]
THREE_TOPICS = COFFEE + BICYCLES + OCEAN
TRUE_BOUNDARIES = [len(COFFEE), len(COFFEE) + len(BICYCLES)]
MEETINGS = [
    "So today I want to talk about how we run meetings at our company.",
    "When I joined, every meeting ran over and nobody knew who decided what.",
    "We started by writing an agenda before each meeting and sharing it a day ahead.",
    "Then we gave every meeting an owner who decides when the discussion ends.",
    "People were sceptical at first because it felt like extra paperwork.",
    "But after a month our meetings were twenty minutes shorter on average.",
    "The owner also writes down the decisions and sends them to everyone.",
    "That one change meant we stopped having the same discussion twice.",
    "We also cancelled recurring meetings that had no agenda for two weeks.",
    "Some teams dropped half of their meetings and nobody missed them.",
    "Now new hires learn these habits in their first week.",
    "And honestly, the best meeting is often the one you never schedule.",
]


@pytest.fixture
def tfidf(monkeypatch):
    monkeypatch.setattr(topics, "_load_wordllama", lambda: None)


def assert_near(found: list[int], expected: list[int]) -> None:
    assert len(found) == len(expected), found
    assert all(abs(f - e) <= 1 for f, e in zip(found, expected, strict=True)), found


def test_three_topic_script_boundaries_found_with_wordllama():
    assert embedder_name() == "wordllama"
    assert_near(topic_boundaries(THREE_TOPICS), TRUE_BOUNDARIES)


def test_three_topic_script_boundaries_found_with_tfidf_fallback(tfidf):
    assert embedder_name() == "tfidf"
    assert_near(topic_boundaries(THREE_TOPICS), TRUE_BOUNDARIES)


def test_one_topic_talk_has_no_boundaries():
    assert topic_boundaries(MEETINGS) == []


def test_max_topics_keeps_the_deepest_boundaries():
    found = topic_boundaries(THREE_TOPICS, max_topics=2)
    assert len(found) == 1
    assert min(abs(found[0] - b) for b in TRUE_BOUNDARIES) <= 1
    assert topic_boundaries(THREE_TOPICS, max_topics=1) == []


@pytest.mark.parametrize("texts", [[], ["One sentence."], COFFEE[:5], ["", "", "", "", "", "", ""]])
def test_short_or_empty_input_has_no_boundaries(texts):
    assert topic_boundaries(texts) == []


def test_long_talk_boundaries_are_sorted_spaced_and_inside():
    texts = (COFFEE * 6 + BICYCLES * 6 + OCEAN * 6) * 2 + COFFEE * 4  # 280 sentences, six topic changes
    found = topic_boundaries(texts)
    assert found == sorted(found)
    assert all(topics.MIN_TOPIC_SENTENCES <= b <= len(texts) - topics.MIN_TOPIC_SENTENCES for b in found)
    assert all(b - a >= topics.MIN_TOPIC_SENTENCES for a, b in zip(found, found[1:], strict=False))
    assert_near(found, [42, 84, 126, 168, 210, 252])


@pytest.mark.parametrize("fallback", [False, True])
def test_embeddings_are_unit_rows(monkeypatch, fallback):
    if fallback:
        monkeypatch.setattr(topics, "_load_wordllama", lambda: None)
    rows = embed_sentences(COFFEE)
    assert rows.shape[0] == len(COFFEE)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-4)
    assert embed_sentences([]).shape[0] == 0


def test_topic_of_sentences_numbers_topics_from_zero():
    assert topic_of_sentences(7, [3, 5]).tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert topic_of_sentences(3, []).tolist() == [0, 0, 0]
