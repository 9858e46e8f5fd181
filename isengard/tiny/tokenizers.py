"""Offline tokenizers for the tiny models: a small CLIP BPE and a small T5 Unigram, written out explicitly
from a fixed word list (no trainer: the `tokenizers` trainers are multi-threaded and not reproducible), so
every build is byte-identical. No download."""

from __future__ import annotations

import math
from functools import cache

CORPUS = [
    "a",
    "an",
    "the",
    "photo",
    "picture",
    "portrait",
    "of",
    "person",
    "woman",
    "man",
    "girl",
    "boy",
    "child",
    "dog",
    "cat",
    "face",
    "smiling",
    "standing",
    "sitting",
    "in",
    "on",
    "at",
    "with",
    "and",
    "red",
    "green",
    "blue",
    "yellow",
    "white",
    "black",
    "orange",
    "purple",
    "grey",
    "square",
    "circle",
    "park",
    "beach",
    "street",
    "city",
    "studio",
    "light",
    "dark",
    "sunset",
    "night",
    "day",
    "hair",
    "eyes",
    "shirt",
    "dress",
    "suit",
    "hat",
    "glasses",
    "close",
    "up",
    "full",
    "body",
    "background",
    "outdoors",
    "indoors",
    "painting",
    "drawing",
    "style",
    "sharp",
    "detailed",
    "high",
    "quality",
    "lowres",
    "blurry",
    "bad",
    "ugly",
    "soft",
    "zxq",
    "ohwx",
    "sks",
]


@cache
def clip_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE in CLIP's layout: every byte (alone and word-final with </w>), then left-to-right
    merges that build each corpus word; <|endoftext|> has the highest id, as in CLIP."""
    from tokenizers.pre_tokenizers import ByteLevel

    alphabet = sorted(ByteLevel.alphabet())
    vocab: dict[str, int] = {}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    for ch in alphabet:
        vocab.setdefault(ch + "</w>", len(vocab))
    merges: list[tuple[str, str]] = []
    for word in dict.fromkeys(CORPUS):
        pieces = [*word[:-1], word[-1] + "</w>"]
        current = pieces[0]
        for piece in pieces[1:]:
            merged = current + piece
            if merged not in vocab:
                merges.append((current, piece))
                vocab[merged] = len(vocab)
            current = merged
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, merges


def clip_tokenizer(max_length: int = 77):
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab()
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=max_length)


@cache
def t5_vocab() -> list[tuple[str, float]]:
    """Unigram pieces: <pad>=0, </s>=1, <unk>=2, then whole words (likely) and single characters (fallback)."""
    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    words = list(dict.fromkeys(CORPUS))
    for word in words:
        pieces.append(("▁" + word, math.log(1.0 / len(words))))
    chars = sorted({ch for word in words for ch in word} | set("abcdefghijklmnopqrstuvwxyz0123456789,.!?'-"))
    pieces.append(("▁", -8.0))
    for ch in chars:
        pieces.append((ch, -10.0))
    return pieces


def t5_tokenizer(max_length: int = 64):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    tokenizer = Tokenizer(models.Unigram(t5_vocab(), unk_id=2))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=tokenizer, extra_ids=0, model_max_length=max_length)


# --- Qwen (FLUX.2 [klein], Z-Image, Qwen-Image) -----------------------------------------------------------

QWEN_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<think>", "</think>",
]  # fmt: skip
# Qwen3's chat template, reduced to what text-to-image pipelines use (it honours enable_thinking)
QWEN3_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n</think>\n\n' }}"
    "{%- endif %}{%- endif %}"
)


@cache
def qwen_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE in Qwen's layout: every byte, then left-to-right merges for each word with and without
    its leading space (Ġ), then the special tokens. Merges apply by rank, so words that share letters may
    split into pieces; that is fine for random-weight models, and every build is the same."""
    from tokenizers.pre_tokenizers import ByteLevel

    vocab: dict[str, int] = {}
    for ch in sorted(ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in dict.fromkeys(CORPUS):
        for spelled in ("Ġ" + word, word):
            current = spelled[0]
            for piece in spelled[1:]:
                merged = current + piece
                if merged not in vocab:
                    merges.append((current, piece))
                    vocab[merged] = len(vocab)
                current = merged
    for token in QWEN_SPECIALS:
        vocab[token] = len(vocab)
    return vocab, merges


def qwen_tokenizer():
    from transformers import Qwen2Tokenizer

    vocab, merges = qwen_vocab()
    tokenizer = Qwen2Tokenizer(
        vocab=dict(vocab),
        merges=list(merges),
        unk_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.add_special_tokens({"additional_special_tokens": QWEN_SPECIALS[1:]})
    tokenizer.chat_template = QWEN3_CHAT_TEMPLATE
    return tokenizer


# --- Mistral (FLUX.2 [dev]) -------------------------------------------------------------------------------

MISTRAL_SPECIALS = ["<unk>", "[IMG]", "<s>", "</s>", "<pad>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]",
                    "[/SYSTEM_PROMPT]"]  # fmt: skip
# Mistral-Small's chat template, reduced to text; FLUX.2 [dev] sends a system and a user message
MISTRAL_CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- if message['content'] is string %}{%- set c = message['content'] %}"
    "{%- else %}{%- set c = namespace(t='') %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'text' %}{%- set c.t = c.t + part['text'] %}{%- endif %}"
    "{%- endfor %}{%- set c = c.t %}{%- endif %}"
    "{%- if message['role'] == 'system' %}{{- '[SYSTEM_PROMPT]' + c + '[/SYSTEM_PROMPT]' }}"
    "{%- elif message['role'] == 'user' %}{{- '[INST]' + c + '[/INST]' }}"
    "{%- else %}{{- c + eos_token }}{%- endif %}"
    "{%- endfor %}"
)


def mistral_tokenizer():
    """A byte-level BPE with Mistral's special ids first (<unk>=0, [IMG]=1, <s>=2, </s>=3, <pad>=4), as a
    plain fast tokenizer with a chat template: what FLUX.2 [dev] calls (its PixtralProcessor needs
    torchvision, which this project does not install)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words, merges = qwen_vocab()
    vocab = {token: index for index, token in enumerate(MISTRAL_SPECIALS)}
    for token in words:
        if token not in QWEN_SPECIALS:
            vocab.setdefault(token, len(vocab))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=list(merges), unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        additional_special_tokens=[*MISTRAL_SPECIALS[5:], "[IMG]"],
    )  # fmt: skip
    fast.chat_template = MISTRAL_CHAT_TEMPLATE
    return fast
