"""A tiny random-weight Florence-2 captioner (transformers' own Florence2ForConditionalGeneration: a DaViT
vision tower and a BART encoder-decoder) with an offline word-level tokenizer and the PIL image processor
(no torchvision), its weights shipped like the other tiny models' (`isengard/tiny/frozen.py`)."""

from __future__ import annotations

from pathlib import Path

from isengard.tiny.blip import WORDS

SIDE = 64  # the image side; the vision tower downsamples 32×: (64/32)² = 4 image tokens, +1 as Florence-2 has
EXTRA_WORDS = ["describe", "with", "paragraph", "what", "is", "shown", "image", ".", ",", "she", "he", "her",
               "his", "eyes", "nose", "skin", "jacket", "sunlight", "window", "holding", "cup"]  # fmt: skip


def build_tiny_florence2(target: Path) -> Path:
    """Build (once) and save the tiny Florence-2 in transformers format under `target`."""
    from isengard.tiny.frozen import save_tiny_transformers

    return save_tiny_transformers(target, "florence2", florence2_architecture)


def florence2_architecture(seed: int = 0):
    """The tiny model (random weights from `seed`) and its processor."""
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import (
        BartConfig,
        CLIPImageProcessorPil,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
        Florence2VisionConfig,
        PreTrainedTokenizerFast,
    )

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
    vocab = {token: i for i, token in enumerate(specials + list(dict.fromkeys(WORDS + EXTRA_WORDS)))}
    core = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={"image_token": "<image>"},
        model_max_length=64,
    )
    images = CLIPImageProcessorPil(
        size={"height": SIDE, "width": SIDE},
        crop_size={"height": SIDE, "width": SIDE},
        do_center_crop=False,
        image_seq_length=(SIDE // 32) ** 2 + 1,
    )
    processor = Florence2Processor(
        image_processor=images, tokenizer=tokenizer, post_processor_config={"pure_text": {}}
    )
    ids = {name: vocab[token] for name, token in (("bos", "<s>"), ("eos", "</s>"), ("pad", "<pad>"))}
    text = BartConfig(vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1,
                      encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=37,
                      max_position_embeddings=128, bos_token_id=ids["bos"], eos_token_id=ids["eos"],
                      pad_token_id=ids["pad"], decoder_start_token_id=ids["eos"], forced_bos_token_id=ids["bos"])  # fmt: skip
    vision = Florence2VisionConfig(depths=(1, 1, 1, 1), embed_dim=(8, 16, 16, 32), num_heads=(1, 1, 1, 2),
                                   num_groups=(1, 1, 1, 2), window_size=2, projection_dim=32,
                                   max_position_embeddings=8, max_temporal_embeddings=2)  # fmt: skip
    config = Florence2Config(
        text_config=text.to_dict(), vision_config=vision.to_dict(), image_token_id=vocab["<image>"]
    )
    torch.manual_seed(seed)
    return Florence2ForConditionalGeneration(config).eval(), processor
