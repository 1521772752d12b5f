// placeholder: bench/select_bench (to be written)
