// placeholder: model/model_config (to be written)
