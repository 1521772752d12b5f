// placeholder: tokenizer/bpe_tokenizer (to be written)
