// placeholder: prune/selection (to be written)
