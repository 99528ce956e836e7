"""Our intent classifier component (``bot/components.py``) through Rasa's own component API.

Trained on a few residents' messages with Rasa's tokeniser and featurisers, saved to model storage
and loaded again, the way ``rasa train`` and ``rasa run`` use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components import BlankSafeLogisticRegressionClassifier

EXAMPLES = {
    "housing_repairs": [
        "my boiler is broken",
        "no hot water",
        "the boiler has packed up and there is no heating",
        "water is coming through the ceiling",
        "my toilet is blocked",
    ],
    "noise": [
        "my neighbours are playing loud music",
        "there is a party next door and it is really loud",
        "noise from the flat upstairs",
        "they have been banging all night",
        "loud music keeps me awake",
    ],
}


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name="classifier")


def test_a_trained_classifier_reloads_with_its_weights(tmp_path: Path) -> None:
    """What ``rasa run`` loads classifies exactly as what ``rasa train`` fitted (IDF weights included)."""
    storage = LocalModelStorage(tmp_path)
    context = _context()
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    featurizer = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 4},
        storage,
        Resource("featurizer"),
        context,
    )
    training = TrainingData(
        [Message.build(text=text, intent=intent) for intent, texts in EXAMPLES.items() for text in texts]
    )
    tokenizer.process_training_data(training)
    featurizer.train(training)
    featurizer.process_training_data(training)
    config = {**BlankSafeLogisticRegressionClassifier.get_default_config(), "C": 10.0, "tfidf": True}
    resource = Resource("classifier")
    trained = BlankSafeLogisticRegressionClassifier.create(config, storage, resource, context)
    trained.train(training)
    assert trained.idf is not None

    def parse(classifier: BlankSafeLogisticRegressionClassifier, texts: list[str]) -> list[dict[str, Any]]:
        messages = [Message.build(text=text) for text in texts]
        tokenizer.process(messages)
        featurizer.process(messages)
        classifier.process(messages)
        return [message.get("intent") for message in messages]

    texts = ["the boiler is not working", "music from next door"]
    before = parse(trained, texts)
    loaded = BlankSafeLogisticRegressionClassifier.load(config, storage, resource, context)
    after = parse(loaded, texts)

    assert [intent["name"] for intent in before] == ["housing_repairs", "noise"]
    assert loaded.idf is not None and list(loaded.idf) == list(trained.idf)
    assert after == before
