"""The explainer page: what a model does with a prompt, in a browser, for the model in any
checkpoint directory (`python -m gpt explain --model DIR`).

    explainer.py   the numbers the page shows, computed by the library (tokens, attention,
                   the logit lens, the next-token distribution and what sampling keeps of it)
    generation.py  generation one token at a time, with the KV cache kept between requests
    server.py      the standard library's HTTP server: the page and a JSON API
    static/        the page itself: index.html, explain.css, explain.js (no build step, no
                   CDN; it works offline)
"""
from .explainer import EXAMPLE_PROMPT, Explainer
from .server import ExplainServer

__all__ = ["EXAMPLE_PROMPT", "Explainer", "ExplainServer"]
