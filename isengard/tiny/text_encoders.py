"""Tiny text encoders (random weights) with their offline tokenizers: CLIP, T5 and Qwen3."""

from __future__ import annotations

from isengard.tiny.tokenizers import clip_tokenizer, qwen_tokenizer, t5_tokenizer


def clip_encoder(seed: int, *, projection: bool = False):
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = clip_tokenizer()
    torch.manual_seed(seed)
    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        hidden_act="gelu",
    )
    model = CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)
    return model.eval(), tokenizer


def t5_encoder(seed: int, max_length: int):
    import torch
    from transformers import T5Config, T5EncoderModel

    tokenizer = t5_tokenizer(max_length)
    torch.manual_seed(seed)
    model = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            feed_forward_proj="gated-gelu",
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
    )
    return model.eval(), tokenizer


def qwen3_encoder(seed: int, *, layers: int = 2, causal_lm: bool = False, hidden: int = 16):
    """Qwen3 at toy width. FLUX.2 [klein] reads hidden states 9, 18 and 27, so it asks for 28 layers (still
    only ~60 K parameters) and the pipeline's real defaults work unchanged."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3Model

    tokenizer = qwen_tokenizer()
    torch.manual_seed(seed)
    config = Qwen3Config(
        hidden_size=hidden,
        intermediate_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=hidden // 2,
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = Qwen3ForCausalLM(config) if causal_lm else Qwen3Model(config)
    return model.eval(), tokenizer


def qwen25_vl_encoder(seed: int, hidden: int = 16):
    """Qwen2.5-VL (Qwen-Image's text encoder) at toy size; its vision tower is built but never used."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = qwen_tokenizer()
    ids = {name: tokenizer.convert_tokens_to_ids(f"<|{name}|>") for name in (
        "vision_start", "vision_end", "vision_pad", "image_pad", "video_pad")}  # fmt: skip
    torch.manual_seed(seed)
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": hidden,
            "intermediate_size": hidden,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1000000.0,
            "vocab_size": len(tokenizer),
            "bos_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "depth": 1,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": hidden,
        },
        hidden_size=hidden,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        vision_start_token_id=ids["vision_start"],
        vision_end_token_id=ids["vision_end"],
        vision_token_id=ids["vision_pad"],
        image_token_id=ids["image_pad"],
        video_token_id=ids["video_pad"],
    )
    return Qwen2_5_VLForConditionalGeneration(config).eval(), tokenizer


def mistral3_encoder(seed: int, *, layers: int = 31, hidden: int = 16):
    """Mistral-Small 3 (FLUX.2 [dev]'s text encoder) at toy width; 31 layers so the pipeline's default
    hidden-state taps (10, 20, 30) exist. Its Pixtral vision tower is built but never used."""
    import torch
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration

    from isengard.tiny.tokenizers import mistral_tokenizer

    tokenizer = mistral_tokenizer()
    torch.manual_seed(seed)
    config = Mistral3Config(
        text_config={
            "model_type": "mistral", "vocab_size": len(tokenizer), "hidden_size": hidden,
            "intermediate_size": hidden, "max_position_embeddings": 512, "num_attention_heads": 2,
            "num_hidden_layers": layers, "num_key_value_heads": 2, "head_dim": hidden // 2,
            "rms_norm_eps": 1e-05, "rope_theta": 1000000000.0, "sliding_window": None,
            "bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 4,
        },
        vision_config={"model_type": "pixtral", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "intermediate_size": 16, "image_size": 30, "patch_size": 6, "num_channels": 3, "head_dim": 8},
        bos_token_id=2, eos_token_id=3, pad_token_id=4, image_seq_length=4, vision_feature_layer=-1,
        image_token_index=1,
    )  # fmt: skip
    return Mistral3ForConditionalGeneration(config).eval(), tokenizer
