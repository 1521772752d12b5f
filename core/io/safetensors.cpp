// placeholder: io/safetensors (to be written)
