// placeholder: eval/token_stream (to be written)
