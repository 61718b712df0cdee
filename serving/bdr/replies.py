"""Reply classification by meaning, beside the agent's rules: a reply the rules cannot place ("Kindly take me off
your list", "Timing is bad, revisit after the budget cycle") is compared with a few example replies of each
label, embedded with the install's embedding model (offline MiniLM by default, see `models/embeddings.py`), and
takes the label of the nearest examples' centroid when it is near enough and clearly nearer than the next label.

Unsubscribing needs a closer match than the others (wrongly suppressing an interested prospect costs more than
asking again), and a referral needs an address in the reply, which only the rules can read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from models.embeddings import Embedder

EXAMPLES: dict[str, list[str]] = {
    "interested": [
        "Yes, this looks relevant to us. Can we find some time next week?",
        "I'd love to learn more, send me a few times that work for you.",
        "We are evaluating tools like this right now, so let's talk.",
        "Could you walk my team through it on a call?",
        "This is timely, we have been looking for exactly this.",
    ],
    "not_now": [
        "The timing isn't great, maybe revisit this in a few months.",
        "We just signed a contract, ask me again next year.",
        "Our budget is frozen until the new fiscal year, follow up then.",
        "We're heads down on a launch, try me again after the summer.",
    ],
    "not_interested": [
        "We're happy with our current vendor.",
        "This isn't something we need.",
        "Not relevant for us, thanks anyway.",
        "We built this in house and won't be buying a tool.",
    ],
    "unsubscribe": [
        "Please take me off your mailing list.",
        "Stop sending me these emails.",
        "I never signed up for this, remove my address from your list.",
        "Do not email me again.",
    ],
    "out_of_office": [
        "I am currently away with limited access to email and will return on Monday.",
        "Thank you for your message. I'm travelling and will respond when I'm back in the office.",
        "I'm on parental leave until next month; for urgent matters contact my team.",
    ],
    "referral": [
        "I'm not the right person for this, my colleague handles it.",
        "You should speak with our head of operations instead.",
        "Forwarding this to the person who owns that decision.",
    ],
    "question": [
        "How does pricing work for a team of fifty people?",
        "Does it integrate with Salesforce?",
        "What does the implementation involve and how long does it take?",
        "Is our data stored in the EU?",
    ],
}
MIN_SIMILARITY = 0.35
MIN_UNSUBSCRIBE_SIMILARITY = 0.5
MIN_MARGIN = 0.03


@dataclass(frozen=True)
class Nearest:
    label: str
    similarity: float
    margin: float  # over the next label's similarity


class ReplyPrototypes:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.labels = list(EXAMPLES)
        centroids = np.stack([embedder.embed(EXAMPLES[label]).mean(axis=0) for label in self.labels])
        self.centroids = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)

    def nearest(self, text: str) -> Nearest:
        vector = self.embedder.embed([text[:2000]])[0]
        similarity = self.centroids @ vector
        order = np.argsort(similarity)[::-1]
        first, second = float(similarity[order[0]]), float(similarity[order[1]])
        return Nearest(self.labels[order[0]], round(first, 4), round(first - second, 4))


_cache: dict[str, ReplyPrototypes] = {}
_lock = threading.Lock()


def prototypes(embedder: Embedder) -> ReplyPrototypes:
    with _lock:
        if embedder.model not in _cache:
            _cache[embedder.model] = ReplyPrototypes(embedder)
        return _cache[embedder.model]


def label_by_meaning(text: str, embedder: Embedder) -> Nearest | None:
    """The label whose examples the reply is nearest to, or None when nothing is near enough or clear enough."""
    found = prototypes(embedder).nearest(text)
    floor = MIN_UNSUBSCRIBE_SIMILARITY if found.label == "unsubscribe" else MIN_SIMILARITY
    if found.similarity < floor or found.margin < MIN_MARGIN:
        return None
    return found
