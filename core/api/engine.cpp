// placeholder: api (to be written)
