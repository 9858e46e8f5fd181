"""CLIP's tokenizer written from the merges that ship with the project (`data/clip-bpe-merges.txt.gz`), so
SD 1.5 and SDXL checkpoints can be imported with no internet. The vocabulary is derived from the merges
the way CLIP itself builds it: the 256 byte symbols, the same with `</w>`, one token per merge, then the
start and end markers — 49,408 tokens, ids identical to `openai/clip-vit-large-patch14`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

MERGES = Path(__file__).with_name("data") / "clip-bpe-merges.txt.gz"
START, END = "<|startoftext|>", "<|endoftext|>"
VOCAB_SIZE = 49408


def byte_symbols() -> list[str]:
    """GPT-2's reversible byte → printable character table, in CLIP's order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = {b: b for b in printable}
    extra = 0
    for b in range(256):
        if b not in codes:
            codes[b] = 256 + extra
            extra += 1
    order = printable + [b for b in range(256) if b not in printable]
    return [chr(codes[b]) for b in order]


def merges() -> list[str]:
    return gzip.decompress(MERGES.read_bytes()).decode("utf-8").splitlines()


def vocabulary(pairs: list[str]) -> dict[str, int]:
    symbols = byte_symbols()
    tokens = [*symbols, *(s + "</w>" for s in symbols), *("".join(p.split()) for p in pairs), START, END]
    return {token: index for index, token in enumerate(tokens)}


def write_clip_tokenizer(folder: Path, *, pad_token: str = END, max_length: int = 77) -> Path:
    """A `CLIPTokenizer` folder (vocab.json, merges.txt, configs). SDXL's second tokenizer pads with "!"."""
    pairs = merges()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocabulary(pairs), ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(pairs) + "\n", encoding="utf-8")
    special = {"bos_token": START, "eos_token": END, "unk_token": END, "pad_token": pad_token}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    config = {
        **special,
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": max_length,
        "do_lower_case": True,
        "errors": "replace",
        "add_prefix_space": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return folder
