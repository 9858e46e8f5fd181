"""A tiny random-weight BLIP captioner (BlipForConditionalGeneration) with an offline WordPiece tokenizer."""

from __future__ import annotations

from pathlib import Path

WORDS = [
    "a",
    "photo",
    "of",
    "person",
    "woman",
    "man",
    "standing",
    "sitting",
    "smiling",
    "in",
    "the",
    "park",
    "with",
    "hair",
    "red",
    "blue",
    "green",
    "face",
    "looking",
    "at",
    "camera",
    "wearing",
    "shirt",
    "outdoors",
    "indoors",
    "portrait",
    "close",
    "up",
    "light",
    "background",
    "street",
]


def build_tiny_blip(target: Path) -> Path:
    """Build (once) and save a tiny BLIP in transformers format under `target`, with the weights shipped in
    the package (`isengard/tiny/frozen.py`)."""
    from isengard.tiny.frozen import save_tiny_transformers

    return save_tiny_transformers(target, "blip", blip_architecture)


def blip_architecture(seed: int = 0):
    """The tiny BLIP model (random weights from `seed`) and its processor with the offline tokenizer."""
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
    )

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    vocab = {token: i for i, token in enumerate(specials + list(dict.fromkeys(WORDS)))}
    core = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    core.normalizer = BertNormalizer(lowercase=True)
    core.pre_tokenizer = BertPreTokenizer()
    core.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tokenizer = BertTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        bos_token="[DEC]",
        model_max_length=32,
    )
    torch.manual_seed(seed)
    config = BlipConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "encoder_hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 64,
            "bos_token_id": vocab["[DEC]"],
            "pad_token_id": vocab["[PAD]"],
            "sep_token_id": vocab["[SEP]"],
            "eos_token_id": vocab["[SEP]"],
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=32,
    )
    model = BlipForConditionalGeneration(config).eval()
    processor = BlipProcessor(
        image_processor=BlipImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    return model, processor
