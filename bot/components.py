"""Rasa NLU components of our own, referenced from ``bot/config.yml`` as ``bot.components.<Class>``.

Rasa loads these in the Rasa server process (it puts the working directory on ``sys.path``). They
live outside ``actions/`` so the action server, which imports every module of that package, does
not load Rasa itself.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

NO_INTENT: dict[str, Any] = {"name": None, "confidence": 0.0}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BlankSafeLogisticRegressionClassifier(LogisticRegressionClassifier):  # type: ignore[misc]
    """Rasa's logistic-regression intent classifier, answering "no intent" for an empty message.

    Why: an empty or whitespace-only message has no tokens, so the regex featuriser adds no features
    and Rasa's classifier crashes on the shorter feature vector; the resident then gets no reply at
    all. Here such a message gets no intent with confidence 0, which the FallbackClassifier turns
    into ``nlu_fallback`` and the agent re-asks, exactly as for any message it did not understand.
    """

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
