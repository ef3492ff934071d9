"""Writes a tiny random-weight Llama-architecture GGUF for tests/llm/server.mjs: 2 layers,
64 wide, a byte-level SentencePiece-style vocabulary (every text can be written with it).
Answers are noise; a grammar (JSON schema) makes them valid whatever the weights.

    python make_model.py OUT.gguf
"""
import sys
import numpy as np
import gguf

out = sys.argv[1]
rng = np.random.default_rng(7)
n_embd, n_ff, n_head, n_layer, ctx = 64, 128, 4, 2, 512

tokens, scores, types = [], [], []
def add(piece, score, kind):
    tokens.append(piece.encode("utf-8") if isinstance(piece, str) else piece)
    scores.append(score)
    types.append(kind)
add("<unk>", 0.0, gguf.TokenType.UNKNOWN)
add("<s>", 0.0, gguf.TokenType.CONTROL)
add("</s>", 0.0, gguf.TokenType.CONTROL)
for b in range(256):
    add(f"<0x{b:02X}>", 0.0, gguf.TokenType.BYTE)
# Some whole pieces so common text takes fewer tokens.
for i, piece in enumerate(["▁", "▁the", "▁a", "e", "t", "o", "\"", "{", "}", ":", ",", "▁\"", "a", "b", "c"]):
    add(piece, -float(i + 1), gguf.TokenType.NORMAL)
n_vocab = len(tokens)

w = gguf.GGUFWriter(out, "llama")
w.add_name("switchyard-test-tiny")
w.add_context_length(ctx)
w.add_embedding_length(n_embd)
w.add_block_count(n_layer)
w.add_feed_forward_length(n_ff)
w.add_head_count(n_head)
w.add_head_count_kv(n_head)
w.add_rope_dimension_count(n_embd // n_head)
w.add_layer_norm_rms_eps(1e-5)
w.add_file_type(gguf.LlamaFileType.ALL_F32)
w.add_tokenizer_model("llama")
w.add_token_list(tokens)
w.add_token_scores(scores)
w.add_token_types(types)
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_unk_token_id(0)
w.add_add_bos_token(True)
w.add_chat_template(
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

def t(name, *shape):
    w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

t("token_embd.weight", n_vocab, n_embd)
w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
t("output.weight", n_vocab, n_embd)
for i in range(n_layer):
    w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
    for p in ("q", "k", "v", "output"):
        t(f"blk.{i}.attn_{p}.weight", n_embd, n_embd)
    w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
    t(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
    t(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
    t(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(out, n_vocab, "tokens")
